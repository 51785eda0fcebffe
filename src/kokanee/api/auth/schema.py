"""The auth tables (registered with the migrations runner as migration 13).

Both are small and edited row by row: the newest `Version` of a key wins (ReplacingMergeTree,
read with FINAL), and deleting writes a tombstone. Neither may ever be in the SQL sandbox's
allowed tables: one holds password hashes, the other token hashes.
"""

from __future__ import annotations

# UserId is the sign-in name (lower case): unique by construction, and what an OIDC subject maps
# to later. Kind `service` is a service account: it has API tokens but no password.
USERS = """
CREATE TABLE IF NOT EXISTS kokanee_users (
    UserId String,
    PasswordHash String,
    Role LowCardinality(String),
    Kind LowCardinality(String),
    Disabled UInt8,
    CreatedAt DateTime64(3),
    Version UInt64,
    Deleted UInt8 DEFAULT 0
) ENGINE = ReplacingMergeTree(Version)
ORDER BY UserId
"""

# API tokens and sign-in sessions. TokenId is the first 24 hex digits of the token's SHA-256 (so a
# token is found by key), TokenHash the whole digest; the token itself is never stored. A token
# acts with its user's role, or with `Role` where that is lower. Expired rows go a week after.
TOKENS = """
CREATE TABLE IF NOT EXISTS kokanee_api_tokens (
    TokenId String,
    TokenHash String,
    Kind LowCardinality(String),
    UserId String,
    Name String,
    Role LowCardinality(String),
    CreatedAt DateTime64(3),
    ExpiresAt DateTime64(3),
    Revoked UInt8,
    Version UInt64
) ENGINE = ReplacingMergeTree(Version)
ORDER BY TokenId
TTL toDateTime(ExpiresAt) + INTERVAL 7 DAY DELETE WHERE toUnixTimestamp64Milli(ExpiresAt) > 0
"""

STATEMENTS = (USERS, TOKENS)
