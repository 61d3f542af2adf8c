"""YAML from files we did not write (note front matter, imported exports), read safely.

PyYAML's safe loader still follows aliases: a recursive one (``a: &a [*a]``) builds a list
that contains itself (every later ``json.dumps`` or walk of it crashes), and an alias bomb
of a few hundred bytes expands to hundreds of millions of strings (minutes, gigabytes)
before any size check can run. Front matter is a handful of fields and never needs
aliases, so :func:`load` refuses them when the parser meets one, before anything is
expanded, and refuses nesting deeper than :data:`MAX_DEPTH` and text above
:data:`MAX_BYTES`.
"""

from __future__ import annotations

from typing import Any

import yaml

from core.errors import InvalidInput

MAX_BYTES = 64 * 1024  # front matter: the store's metadata limit, more could never be kept
MAX_DEPTH = 32


class _NoAliasLoader(yaml.SafeLoader):  # type: ignore[misc]  # (PyYAML is untyped)
    """The safe loader, refusing aliases and deep nesting as the document is composed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise InvalidInput(
                "it uses a YAML alias (*name), which is not accepted here",
                hint="Write the value out instead of referring to an anchor.",
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise InvalidInput(f"it is nested more than {MAX_DEPTH} levels deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load(text: str, max_bytes: int = MAX_BYTES) -> Any:
    """The YAML value of ``text`` (safe types only).

    Raises:
        InvalidInput: aliases, nesting deeper than MAX_DEPTH, or more than ``max_bytes``.
        yaml.YAMLError: text that is not valid YAML.
    """
    if len(text.encode("utf-8", errors="replace")) > max_bytes:
        raise InvalidInput(f"it is larger than {max_bytes // 1024} KiB")
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)


class _PlainDumper(yaml.SafeDumper):  # type: ignore[misc]  # (PyYAML is untyped)
    """The safe dumper, writing a value out again wherever it repeats (never ``&id001``/``*id001``)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(value: Any) -> str:
    """``value`` as block YAML that :func:`load` reads back (no anchors or aliases)."""
    return str(yaml.dump(value, Dumper=_PlainDumper, allow_unicode=True, sort_keys=False))
