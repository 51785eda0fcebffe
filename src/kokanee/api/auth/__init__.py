"""Users, roles and sign-in for the API and the UI.

An identity is a user id and its roles (`roles.py`), however it was proven: a session cookie from
the sign-in page, an API token, the static `--api-token`, or later an OIDC provider. Every route
declares the role it needs (`access.py`); the tables and their queries live in `users.py` and
`tokens.py`, their DDL in `schema.py`.
"""
