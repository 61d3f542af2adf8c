"""Errors a model can act on: one sentence per invalid argument, proper JSON-RPC codes.

The SDK reports invalid tool arguments as pydantic's multi-line dump (with a link to
pydantic's site per error) and a prompt's missing argument as an internal error (-32603).
An assistant reads these texts to correct its call, so each says which argument, what was
given and what is allowed; a prompt called wrongly is a -32602 (invalid params) error.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

INVALID_PARAMS = -32602
_SHOWN_CHARS = 40

_EXPECTED = {  # pydantic error type → what the argument must be
    "string_type": "text",
    "list_type": 'a list (e.g. ["a", "b"])',
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def clean_doc(text: str | None) -> str:
    """A docstring as a description: indentation of its continuation lines removed."""
    return inspect.cleandoc(text) if text else ""


def given(value: Any) -> str:
    """A short, safe rendering of what the caller sent."""
    if isinstance(value, str):
        shown = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"
        return f"the text {shown!r}"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int | float):
        text = repr(value)
        return f"the number {text if len(text) <= 24 else text[:20] + '…'}"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else f"a {type(value).__name__}"


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "the arguments"


def _sentence(err: dict[str, Any], allowed: Iterable[str]) -> str:
    name, kind, ctx = _field(err["loc"]), err["type"], err.get("ctx") or {}
    got = given(err.get("input"))
    if kind == "missing":
        return f"`{name}` is required."
    if kind == "extra_forbidden":
        known = ", ".join(sorted(allowed)) if len(err["loc"]) == 1 else ""
        return f"`{name}` is not a parameter here" + (f" (parameters: {known})." if known else ".")
    if kind == "literal_error" or kind == "enum":
        return f"`{name}` must be one of {ctx.get('expected', '')}; got {got}."
    if kind in _EXPECTED:
        return f"`{name}` must be {_EXPECTED[kind]}; got {got}."
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"`{name}` must be {words} {ctx.get(key)}; got {got}."
    if kind in ("string_too_short", "too_short"):
        return f"`{name}` is too short (at least {ctx.get('min_length')}); got {got}."
    if kind in ("string_too_long", "too_long"):
        return f"`{name}` is too long (at most {ctx.get('max_length')}); got {given(err.get('input'))}."
    return f"`{name}`: {err.get('msg', 'invalid')}; got {got}."


def invalid_arguments(what: str, exc: ValidationError, allowed: Iterable[str] = ()) -> str:
    """``Invalid arguments for <what>: <one sentence per argument>``."""
    names = list(allowed)
    sentences = [_sentence(dict(err), names) for err in exc.errors(include_url=False)]
    return f"Invalid arguments for {what}: " + " ".join(sentences)


def missing_arguments(what: str, missing: Iterable[str], allowed: Iterable[str]) -> str:
    need = sorted(missing)
    verb = "is" if len(need) == 1 else "are"
    return (
        f"Invalid arguments for {what}: {', '.join(f'`{m}`' for m in need)} {verb} required "
        f"(arguments: {', '.join(sorted(allowed))})."
    )
