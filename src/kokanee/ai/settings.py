"""The AI settings saved from the UI (`PUT /api/v1/ai/config`): kept in the store, so they survive
a restart, and preferred over `--ai-config` and the environment while they exist. A save applies
to the live router at once; forgetting them goes back to the file and environment.

API keys typed into the UI are stored with the settings (kokanee_ai_settings is not among the SQL
sandbox's tables) and never returned; `api_key_env` keeps them out of the store altogether.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from kokanee.ai.config import AiConfig, AiConfigError, describe, load_ai_config
from kokanee.ai.router import Router
from kokanee.store.client import QueryError, Store, StoreUnavailable

log = logging.getLogger(__name__)

Source = Literal["ui", "file", "env", "none"]
_ID = "ai"


def load_saved(store: Store) -> AiConfig | None:
    """The settings saved from the UI; None when there are none, they were forgotten, or they no
    longer validate (logged: the file and environment apply then)."""
    rows = store.query(
        "SELECT Config FROM kokanee_ai_settings FINAL WHERE SettingsId = {id:String} AND Deleted = 0",
        parameters={"id": _ID},
    ).rows
    if not rows:
        return None
    try:
        return AiConfig.model_validate_json(rows[0][0])
    except ValidationError as e:
        log.warning("the AI settings saved from the UI are not valid any more (%s); using file and env", describe(e))
        return None


def save(store: Store, config: AiConfig) -> None:
    """Stores `config` (keys included) as the one saved version."""
    store.command(
        "INSERT INTO kokanee_ai_settings (SettingsId, Config, UpdatedAt, Deleted) "
        "VALUES ({id:String}, {config:String}, now64(3), 0)",
        parameters={"id": _ID, "config": config.model_dump_json()},
    )


def clear(store: Store) -> None:
    """Forgets the saved settings (a tombstone: the newest version wins)."""
    store.command(
        "INSERT INTO kokanee_ai_settings (SettingsId, Config, UpdatedAt, Deleted) "
        "VALUES ({id:String}, '', now64(3), 1)",
        parameters={"id": _ID},
    )


def file_or_env(path: Path | None, env: Mapping[str, str]) -> tuple[AiConfig, Source]:
    """What kokanee uses without saved settings, as before there were any: the file, else the environment."""
    config = load_ai_config(path, env)
    if path is not None:
        return config, "file"
    return config, "env" if config.providers else "none"


def parse(body: Any) -> AiConfig:
    """A PUT body (the `--ai-config` file's shape, as JSON) as a config; AiConfigError names the key."""
    try:
        return AiConfig.model_validate(body)
    except ValidationError as e:
        raise AiConfigError(describe(e)) from e


def keep_keys(new: AiConfig, old: AiConfig) -> AiConfig:
    """A provider given without `api_key` keeps the key it had under the same name, so a form can
    edit it without the key being typed again. Only while it still goes to the same protocol and
    base URL: a stored key is never sent somewhere it was not given for. `"api_key": ""` forgets it."""
    providers = dict(new.providers)
    for name, p in new.providers.items():
        before = old.providers.get(name)
        if "api_key" in p.model_fields_set or before is None or not before.api_key:
            continue
        if (p.kind, p.base_url.rstrip("/")) != (before.kind, before.base_url.rstrip("/")):
            raise AiConfigError(
                f"providers.{name}.api_key: the provider now goes to another protocol or base URL; "
                "give its key again (or name an environment variable in api_key_env)"
            )
        providers[name] = p.model_copy(update={"api_key": before.api_key})
    return new.model_copy(update={"providers": providers})


class AiSettings:
    """The live AI configuration and where it came from; saving and forgetting apply to a router."""

    def __init__(self, store: Store, path: Path | None, env: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.path = path
        self.env = os.environ if env is None else env
        self.source: Source = "none"
        self._lock = threading.Lock()  # one change at a time: save, then reconfigure

    def effective(self) -> AiConfig:
        """At start: the saved settings if there are any, else the file and environment."""
        try:
            saved = load_saved(self.store)
        except (QueryError, StoreUnavailable) as e:
            log.warning("could not read the AI settings saved from the UI (%s); using file and env", e)
            saved = None
        if saved is not None:
            self.source = "ui"
            return saved
        config, self.source = file_or_env(self.path, self.env)
        return config

    def apply(self, router: Router, body: Any) -> AiConfig:
        """Validates `body`, keeps stored keys it omits, saves it and routes by it from now on.
        AiConfigError (nothing changed) when it is wrong."""
        with self._lock:
            config = keep_keys(parse(body), router.config)
            save(self.store, config)
            router.reconfigure(config)
            self.source = "ui"
            return config

    def revert(self, router: Router) -> AiConfig:
        """Forgets the saved settings and routes by the file and environment again (read anew)."""
        with self._lock:
            config, source = file_or_env(self.path, self.env)
            clear(self.store)
            router.reconfigure(config)
            self.source = source
            return config
