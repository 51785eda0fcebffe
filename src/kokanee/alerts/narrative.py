"""The incident narrative attached to alerts that belong to an incident: the AI layer's template
narrative (sentences filled from measured evidence, no model call, so it costs nothing and cannot
invent numbers). Optional: without the AI layer, or when it fails, the alert goes out without it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kokanee.store.client import Store

Narrator = Callable[[dict[str, Any]], str | None]


def incident_narrator(store: Store) -> Narrator | None:
    try:
        from kokanee.ai.evidence import for_incident
        from kokanee.ai.narrative import template_narrative
    except ImportError:
        return None

    def narrate(event: dict[str, Any]) -> str | None:
        incident = event.get("incident_id")
        if not incident or event.get("event") != "firing":
            return None
        evidence = for_incident(store, str(incident), time.time_ns())
        return template_narrative(evidence) if evidence is not None else None

    return narrate
