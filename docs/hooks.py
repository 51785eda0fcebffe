"""mkdocs hook: the API reference page, rendered from kokanee's own OpenAPI schema at every build.

`create_app(...).openapi()` is what `/openapi.json` and `/docs` serve, so the page is the code's
own description of every route, parameter and body: it cannot go stale, and nothing generated is
committed. Building the app touches no store (routes reach the store per request), so the build
needs kokanee importable and nothing running.

Run alone (`python docs/hooks.py`) it prints the page, for a look without mkdocs.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable
from typing import Any

API_PAGE = "api.md"

INTRO = """# API reference

Generated at build time from kokanee's OpenAPI schema (the one a running server serves at
`/openapi.json` and browses at `/docs`), so it lists exactly the routes of this version. The
[query API overview](query.md) explains the conventions with examples.

- JSON over HTTP on `--http-port` (8080).
- Times are RFC 3339, Unix seconds, ms or ns, or relative such as `now-15m`; a window defaults to
  the last hour. Durations in the data are nanoseconds.
- Errors are `{"error": "..."}` with a 4xx status that says what was wrong; 422 is a parameter
  of the wrong type or out of range.
- With auth on (see [Security](security.md)), a request signs in with `Authorization: Bearer
  TOKEN` (an API token or `--api-token`) or the UI's session cookie, and each route needs the role
  named beside it: a **viewer** reads everything, asks and runs sandboxed SQL; an **editor** also
  changes dashboards, alert rules, silences, reports, capture sessions and feedback; an **admin**
  also manages users, tokens, AI providers, channels and retention. Without a session or token a
  route answers 401, with too low a role 403. With auth off everyone may call every route.
"""


class _NoStore:
    """Stands in for the store while the schema is read: building the app must not query it."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the API reference build touched the store ({name}); routes must reach it per request")


def _app() -> Any:
    from kokanee.api.app import create_app

    # Only the store is passed: every other parameter keeps its default, whatever is added later.
    first = next(iter(inspect.signature(create_app).parameters))
    return create_app(**{first: _NoStore()})


def openapi_schema() -> dict[str, Any]:
    schema: dict[str, Any] = _app().openapi()
    return schema


def route_roles(app: Any) -> dict[tuple[str, str], str]:
    """(method, path) → the role the route needs when auth is on, or "anyone": the same
    declaration the server enforces (kokanee.api.auth.access.needed)."""
    from kokanee.api.auth.access import needed, served_routes

    roles: dict[tuple[str, str], str] = {}
    for path, route in served_routes(app):
        for method in route.methods or ():
            access = needed(route, method, path)
            roles[(method.lower(), path)] = str(access.role) if access.role is not None else "anyone"
    return roles


def page() -> str:
    app = _app()
    return render(app.openapi(), route_roles(app))


def _cell(text: Any) -> str:
    """One table cell: a single line, pipes escaped."""
    return re.sub(r"\s+", " ", str(text)).replace("|", "\\|").strip()


def _anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    if "anyOf" in schema or "oneOf" in schema:
        parts = [p for p in schema.get("anyOf", schema.get("oneOf", [])) if p.get("type") != "null"]
        return " or ".join(dict.fromkeys(_type(p) for p in parts)) or "null"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type(schema['additionalProperties'])}"
    return str(kind or "any")


def _limits(schema: dict[str, Any]) -> str:
    words = []
    for key, word in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in schema:
            words.append(f"{word} {schema[key]}")
    if "maxItems" in schema:
        words.append(f"at most {schema['maxItems']} items")
    if "maxLength" in schema:
        words.append(f"at most {schema['maxLength']} characters")
    return ", ".join(words)


def _default(schema: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if schema.get("default") is not None:
        return f"`{json.dumps(schema['default'])}`"
    return ""


def _describe(schema: dict[str, Any], outer: dict[str, Any] | None = None) -> str:
    text = (outer or {}).get("description") or schema.get("description") or ""
    limits = _limits(schema)
    return _cell(f"{text} ({limits})" if text and limits else text or limits)


def _parameters(params: list[dict[str, Any]]) -> Iterable[str]:
    yield "| parameter | in | type | default | meaning |"
    yield "|---|---|---|---|---|"
    for p in params:
        schema = p.get("schema", {})
        yield (
            f"| `{p['name']}` | {p['in']} | {_type(schema)} | {_default(schema, bool(p.get('required')))} "
            f"| {_describe(schema, p)} |"
        )


def _properties(schema: dict[str, Any]) -> Iterable[str]:
    required = set(schema.get("required", []))
    yield "| field | type | default | meaning |"
    yield "|---|---|---|---|"
    for name, prop in schema.get("properties", {}).items():
        yield f"| `{name}` | {_type(prop)} | {_default(prop, name in required)} | {_describe(prop)} |"


def _body(op: dict[str, Any]) -> Iterable[str]:
    content = op.get("requestBody", {}).get("content", {})
    for media, spec in content.items():
        schema = spec.get("schema", {})
        yield f"Request body (`{media}`): {_type(schema) if schema else 'raw bytes'}."
        yield ""


# FastAPI's own wording for every route's 200 and 422: saying it under each route says nothing.
_ROUTINE = {"Successful Response", "Validation Error"}


def _responses(op: dict[str, Any]) -> Iterable[str]:
    codes = [
        f"`{code}` {_cell(r.get('description', ''))}"
        for code, r in op.get("responses", {}).items()
        if r.get("description") not in _ROUTINE
    ]
    if codes:
        yield "Responses: " + "; ".join(codes) + "."
        yield ""


def _operation(method: str, path: str, op: dict[str, Any], role: str | None) -> Iterable[str]:
    slug = re.sub(r"[^a-z0-9]+", "-", f"{method} {path}".lower()).strip("-")
    yield f"### `{method.upper()} {path}` {{#{slug}}}"
    yield ""
    if op.get("summary"):
        who = f" · needs **{role}**" if role and role != "anyone" else " · open to anyone" if role else ""
        yield f"**{op['summary']}**{who}"
        yield ""
    if op.get("description"):
        yield op["description"].strip()
        yield ""
    if op.get("parameters"):
        yield from _parameters(op["parameters"])
        yield ""
    yield from _body(op)
    yield from _responses(op)


def render(schema: dict[str, Any], roles: dict[tuple[str, str], str] | None = None) -> str:
    """The whole page: operations grouped by tag (in the order tags first appear), each with the
    role it needs when `roles` are given, then schemas."""
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append((method, path, op))
    lines = [INTRO, f"Version {schema.get('info', {}).get('version', '?')}: {sum(map(len, by_tag.values()))} "
             f"operations.", ""]  # fmt: skip
    for tag, ops in by_tag.items():
        lines += [f"## {tag.capitalize()}", ""]
        for method, path, op in ops:
            lines += list(_operation(method, path, op, (roles or {}).get((method, path))))
    schemas = schema.get("components", {}).get("schemas", {})
    if schemas:
        lines += ["## Schemas", ""]
        for name, body in sorted(schemas.items()):
            lines += [f"### {name} {{#{_anchor(name)}}}", ""]
            if body.get("description"):
                lines += [_cell(body["description"]), ""]
            if body.get("properties"):
                lines += [*_properties(body), ""]
            elif "enum" in body:
                lines += [f"One of {_type(body)}.", ""]
    return "\n".join(lines) + "\n"


def on_files(files: Any, config: Any) -> Any:
    """mkdocs event: adds the generated page before the nav is built, so the nav can name it."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, API_PAGE, content=page()))
    return files


if __name__ == "__main__":
    print(page())
