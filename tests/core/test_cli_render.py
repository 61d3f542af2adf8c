"""The CLI's renderings, in process: progress labels and hit text (fast; the end-to-end
checks at 80 and 120 columns are in test_cli_output.py)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cli import common
from cli.render import _title_and_rest
from core import ProgressEvent


def test_the_reindex_progress_label_does_not_repeat_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=out, force_terminal=True, width=80))
    with common.progress_bar("reindex") as update:
        update(ProgressEvent("reindex", 1, 2, ""))
    with common.progress_bar("sync git") as update:
        update(ProgressEvent("commits", 1, 2, ""))
    text = out.getvalue()
    assert "reindex · reindex" not in text and "reindex" in text
    assert "sync git · commits" in text


@pytest.mark.parametrize(
    ("title", "snippet", "expected"),
    [
        # untitled: the title is the first line and the snippet starts with it
        (
            "Uploads fail with 503",
            "Uploads fail with 503 while restarting",
            ("Uploads fail with 503", "while restarting"),
        ),
        # a clipped first-line title: the snippet alone carries the text
        (
            "We pin numpy below 2 because…",
            "We pin numpy below 2 because pandas breaks",
            ("", "We pin numpy below 2 because pandas breaks"),
        ),
        # the snippet window starts inside the title
        (
            "Add f2 so the retry logic works",
            "…f2 so the retry logic works Files: f2.py",
            ("Add f2 so the retry logic works", "Files: f2.py"),
        ),
        # nothing shared: both shown
        (
            "Upload retry budget",
            "Keep it under the gateway timeout",
            ("Upload retry budget", "Keep it under the gateway timeout"),
        ),
        # the snippet only repeats the title
        ("Release on Tuesdays", "Release on Tuesdays", ("Release on Tuesdays", "")),
    ],
)
def test_a_hit_never_shows_the_same_words_twice(
    title: str, snippet: str, expected: tuple[str, str]
) -> None:
    assert _title_and_rest(title, snippet) == expected
