"""Checking a narrative against its evidence, sentence by sentence.

A sentence stands only when it cites evidence ids that exist ([E3]) and everything it asserts is in
what it cites: every number (after rounding; a percentage or ms as written in the facts), every
service name, every trace or span id, and every health word (healthy, degraded, critical).
Telemetry text quoted in the evidence never supports a claim: only the facts kokanee computed do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kokanee.ai.evidence import Evidence, EvidenceSet

_CITATION = re.compile(r"\[((?:E\d+)(?:\s*,\s*E\d+)*)\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:[.,]\d+)*)(?![\w.,]\d)\s*(%|ms\b|s\b)?")
_HEX_ID = re.compile(r"\b[0-9a-f]{16}(?:[0-9a-f]{16})?\b")
_STATUS = re.compile(r"\b(healthy|degraded|critical)\b(?!\s+(?:request\s+)?paths?)", re.IGNORECASE)
_PERCENTILE = re.compile(r"\bp\d{1,2}(?:\.\d+)?\b", re.IGNORECASE)
_KEBAB = re.compile(r"\b[a-z][a-z0-9]*(?:-[a-z0-9]+)+\b")


@dataclass
class Claim:
    sentence: str
    cites: list[str]
    supported: bool
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"sentence": self.sentence, "cites": self.cites, "supported": self.supported, "problems": self.problems}


@dataclass
class Verified:
    text: str
    claims: list[Claim]

    @property
    def supported(self) -> list[Claim]:
        return [c for c in self.claims if c.supported]

    @property
    def removed(self) -> list[Claim]:
        return [c for c in self.claims if not c.supported]


def sentences(text: str) -> list[str]:
    """Sentences with their trailing citations kept on them."""
    parts = [p.strip() for p in _SENTENCE.split(text.strip())]
    out: list[str] = []
    for p in parts:
        if not p:
            continue
        if out and _CITATION.fullmatch(p):
            out[-1] += " " + p
        else:
            out.append(p)
    return out


def _values(evidence: list[Evidence]) -> tuple[dict[str, list[float]], set[str], set[str]]:
    """Numbers (by unit: "%" for *_pct facts, "ms" for *_ms facts, "" for all), names and status
    words in the cited evidence's facts."""
    numbers: dict[str, list[float]] = {"": [], "%": [], "ms": []}
    names: set[str] = set()
    statuses: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            numbers[""].append(float(value))
            unit = "%" if key.endswith("_pct") else "ms" if key.endswith("_ms") else None
            if unit:
                numbers[unit].append(float(value))
        elif isinstance(value, str):
            names.add(value.lower())
            if key in ("status", "severity"):
                statuses.add(value.lower())
            if key == "reason":  # kokanee's own words, with the numbers of the verdict and their units
                for n, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(%|ms|s)?", value):
                    numbers[""].append(float(n))
                    if unit == "%":
                        numbers["%"].append(float(n))
                    elif unit in ("ms", "s"):
                        numbers["ms"].append(float(n) * (1000 if unit == "s" else 1))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v, key)

    for e in evidence:
        walk(e.facts)
        names.add(e.title.lower())
    return numbers, names, statuses


def _close(x: float, written: str, facts: list[float]) -> bool:
    decimals = len(written.split(".")[1]) if "." in written else 0
    slack = 0.5 * 10**-decimals
    return any(abs(x - v) <= max(slack, 0.02 * abs(v)) for v in facts)


def verify(text: str, ev: EvidenceSet, mode: str = "remove") -> Verified:
    """The text with unsupported sentences removed (mode "remove") or marked (mode "mark")."""
    by_id = ev.by_id()
    all_names = {n.lower() for n in ev.known_services}
    for e in ev.items:
        for key in ("service", "source", "target", "root_service"):
            if isinstance(e.facts.get(key), str):
                all_names.add(e.facts[key].lower())
    claims: list[Claim] = []
    for sentence in sentences(text):
        cites = [c.strip() for group in _CITATION.findall(sentence) for c in group.split(",")]
        problems: list[str] = []
        if not cites:
            problems.append("cites no evidence")
        unknown = [c for c in cites if c not in by_id]
        if unknown:
            problems.append(f"cites unknown evidence {', '.join(unknown)}")
        cited = [by_id[c] for c in cites if c in by_id]
        numbers, names, statuses = _values(cited)
        body = _CITATION.sub(" ", sentence)
        lowered = body.lower()
        for e in cited:  # a cited item's own title (kokanee's words) is quoted, not asserted
            lowered = lowered.replace(e.title.lower(), " ")
        for name in sorted(all_names, key=len, reverse=True):
            if name and name in lowered:
                if not any(name in n for n in names):
                    problems.append(f"mentions {name}, which the cited evidence does not")
                lowered = lowered.replace(name, " ")
        for token in _KEBAB.findall(lowered):
            if not any(token in n for n in names):
                problems.append(f"names {token}, which no evidence knows")
            lowered = lowered.replace(token, " ")
        for hex_id in _HEX_ID.findall(lowered):
            if not any(hex_id in n for n in names):
                problems.append(f"id {hex_id} is not in the cited evidence")
            lowered = lowered.replace(hex_id, " ")
        for word in _STATUS.findall(lowered):
            if word.lower() not in statuses:
                problems.append(f"says {word.lower()}, which the cited evidence does not")
        for written, unit in _NUMBER.findall(_PERCENTILE.sub(" ", lowered)):
            plain = written.replace(",", "")
            try:
                x = float(plain)
            except ValueError:
                continue
            if unit == "s":  # seconds, checked against the ms facts
                x, plain, unit = x * 1000, f"{x * 1000:g}", "ms"
            if not _close(x, plain, numbers[unit if unit in ("%", "ms") else ""]):
                problems.append(f"the number {written}{unit} is not in the cited evidence")
        claims.append(Claim(sentence, cites, not problems, problems))
    if mode == "mark":
        out = " ".join(c.sentence if c.supported else f"[unsupported: {c.sentence}]" for c in claims)
    else:
        out = " ".join(c.sentence for c in claims if c.supported)
    return Verified(out, claims)
