"""What in a log line varies, and what names the statement that wrote it.

Drain groups lines by their words once the variable parts are masked. Two statements of one
method often log the same words ("calculate time: 475" at line 366 and again at line 372), so
Drain folds them into one template, and a request that dies between them halves that template's
count instead of silencing one of its statements. Where a line says where it was logged (OTel's
`code.*` attributes, a Java `Class#line` or a `file.py:line` header) that location is kept beside
the template, so each statement is counted on its own.
"""

from __future__ import annotations

import re

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction

from kokanee.store.reads.logs import HEADER_CHARS

# Variable parts that would otherwise split one template into thousands.
MASKS = (
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"\b[0-9a-fA-F]{16,}\b", "HEX"),
    # Shorter ids: hex words mixing digits and letters, 8+ long or in dashed groups ("c6f3a2b1",
    # "8f2e41c0-9a1b-77d3", a pod's "64469b5b48"); "deadbeef", "2023-01-29" and "1234-5678" are not.
    (r"\b(?=[0-9a-fA-F-]*\d)(?=[0-9a-fA-F-]*[a-fA-F])(?:[0-9a-fA-F]{4,}(?:-[0-9a-fA-F]{4,})+|[0-9a-fA-F]{8,})\b", "ID"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "IP"),
    (r"(?<![A-Za-z_])-?\d+(?:\.\d+)?", "NUM"),
)
# The same, as RE2 (ClickHouse's `match`) takes them: RE2 has no look-around, and a line that fits
# a template's words needs no more than the mask's shape.
_RE2 = {name: re.sub(r"\(\?<?[=!][^)]*\)", "", pattern) for pattern, name in MASKS}
_PLACEHOLDER = re.compile(r"<(\*|" + "|".join(_RE2) + r")>")


def masking() -> list[MaskingInstruction]:
    """MASKS as a drain3 config's `masking_instructions`."""
    return [MaskingInstruction(pattern, name) for pattern, name in MASKS]


_LOCATION = re.compile(
    # logback/log4j `%C#%L` or `%logger#%line`: an optionally package-qualified class name
    r"(?<![\w.$])((?:[A-Za-z_$][\w$]*\.)*[A-Z][\w$]*#\d{1,5})\b"
    # `file.ext:line`, as Python's, Go's and Node's loggers print it
    r"|(?<![\w./-])((?:[\w.-]+/)*[\w-]+\.(?:java|kt|scala|groovy|py|go|rb|js|mjs|cjs|ts|cs|rs|c|cc|cpp|h|hpp"
    r"|php|ex|exs|erl|swift|dart|lua):\d{1,6})\b"
)


def code_location(body: str, from_attributes: str = "") -> str:
    """The statement's location: from the record's attributes when set, else from the body's
    header; '' when the line does not say."""
    if from_attributes:
        return from_attributes
    found = _LOCATION.search(body, 0, HEADER_CHARS)
    return (found.group(1) or found.group(2)) if found else ""


# The root-cause ranker mines only a line's head: a template is told by its first words, and payload
# dumps are long. A template of a line cut there can still be matched to a whole line's.
MINED_HEAD_CHARS = 300


def with_location(template: str, masked_location: str, location: str) -> str:
    """The template as a reader wants it: the location in place of its masked form."""
    if not location:
        return template
    if masked_location and masked_location in template:
        return template.replace(masked_location, location, 1)
    return f"[{location}] {template}"


def template_of(miner: TemplateMiner, cluster_id: int, location: str) -> str:
    """The text of a miner's template, with the statement's location shown in it."""
    cluster = miner.drain.id_to_cluster.get(cluster_id)
    text = cluster.get_template() if cluster is not None else ""
    return with_location(text, miner.masker.mask(location), location)


def template_regex(template: str) -> str:
    """An RE2 pattern for the lines a template (as `template_of` shows it, without a `[location]`
    prefix) stands for: its words in order, whitespace between them as Drain splits lines, each
    mask in the mask's shape and each `<*>` one word."""
    words = []
    for word in template.split():
        parts, at = [], 0
        for found in _PLACEHOLDER.finditer(word):
            parts.append(re.escape(word[at : found.start()]))
            name = found.group(1)
            parts.append(r"\S+" if name == "*" else f"(?:{_RE2[name]})")
            at = found.end()
        parts.append(re.escape(word[at:]))
        words.append("".join(parts))
    return r"^\s*" + r"\s+".join(words) + r"\s*$"
