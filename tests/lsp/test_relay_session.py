"""The LSP relay's own bookkeeping (no processes): it frames messages, follows the editor's
documents through incremental edits in the negotiated encoding, and knows what to replay to
a new engine. The end-to-end carry-over is tests/engine/test_lsp_relay_reconnect.py."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from lsp_server.relay import REPLAY_ID, Frames, Session, frame
from lsp_server.relay_docs import Document, split_lines


def _edit(line: int, char: int, end_line: int, end_char: int, text: str) -> dict:
    return {
        "range": {
            "start": {"line": line, "character": char},
            "end": {"line": end_line, "character": end_char},
        },
        "text": text,
    }


def doc(text: str) -> Document:
    return Document.opened(
        {"uri": "file:///a.py", "languageId": "python", "version": 1, "text": text}
    )


def test_incremental_edits_as_an_editor_sends_them() -> None:
    d = doc("def a():\n    return 1\n")
    d.apply(_edit(1, 11, 1, 12, "42"), "utf-16")  # replace within a line
    d.apply(_edit(2, 0, 2, 0, "\ndef b():\n    pass\n"), "utf-16")  # append after the end
    d.apply(_edit(0, 4, 0, 5, "first"), "utf-16")
    assert d.text == "def first():\n    return 42\n\ndef b():\n    pass\n"
    d.apply(_edit(0, 0, 3, 0, ""), "utf-16")  # delete across lines
    assert d.text == "def b():\n    pass\n"
    d.apply({"text": "x = 1\r\ny = 2"}, "utf-16")  # a full replacement
    d.apply(_edit(1, 4, 1, 5, "3"), "utf-16")
    assert d.text == "x = 1\r\ny = 3"


def test_positions_count_utf16_code_units_unless_the_server_chose_otherwise() -> None:
    line = "s = '🚀é' + x\n"  # 🚀 is two UTF-16 units, four UTF-8 bytes; é two UTF-8 bytes
    d = doc(line)
    d.apply(_edit(0, 12, 0, 13, "y"), "utf-16")  # 🚀 counts 2: x at unit 12
    assert d.text == "s = '🚀é' + y\n"
    d = doc(line)
    d.apply(_edit(0, 15, 0, 16, "y"), "utf-8")  # bytes: 🚀 4, é 2 → x at byte 15
    assert d.text == "s = '🚀é' + y\n"
    d = doc(line)
    d.apply(_edit(0, 11, 0, 12, "y"), "utf-32")  # code points: x is the 12th
    assert d.text == "s = '🚀é' + y\n"


@given(
    st.text(alphabet="ab\n\r🚀é ", max_size=40),
    st.lists(
        st.tuples(
            st.integers(0, 6),
            st.integers(0, 12),
            st.integers(0, 6),
            st.integers(0, 12),
            st.text(alphabet="xy\n🚀", max_size=5),
        ),
        max_size=6,
    ),
)
def test_edits_match_a_whole_text_reference(text: str, edits: list) -> None:
    """Each edit applied to the list of lines equals the same edit done on the whole string."""
    d, ref = doc(text), text
    for l1, c1, l2, c2, new in edits:
        (l1, c1), (l2, c2) = sorted([(l1, c1), (l2, c2)])
        start, end = _offset(ref, l1, c1), _offset(ref, l2, c2)
        ref = ref[:start] + new + ref[end:]
        d.apply(_edit(l1, c1, l2, c2, new), "utf-32")
        assert d.text == ref


def _offset(text: str, line: int, char: int) -> int:
    """The reference: walk the whole text (LSP's \\n, \\r\\n and \\r end lines)."""
    lines = split_lines(text)
    if line >= len(lines):
        return len(text)
    before = sum(len(x) for x in lines[:line])
    return before + min(char, len(lines[line].rstrip("\r\n")))


def test_frames_split_across_reads_and_joined_in_one() -> None:
    one, two = json.dumps({"id": 1}).encode(), json.dumps({"method": "m", "params": "é"}).encode()
    stream = frame(one) + frame(two)
    frames = Frames()
    got = [b for i in range(0, len(stream), 7) for b in frames.feed(stream[i : i + 7])]
    assert got == [one, two]
    assert Frames().feed(b"Content-Type: x\r\n" + stream) == [one, two]


def test_replay_holds_the_latest_state_and_nothing_closed() -> None:
    s = Session()
    s.note(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {"workspaceFolders": [{"uri": "file:///a", "name": "a"}]},
        }
    )
    assert s.replay()[0]["id"] == 0  # not answered yet: the editor's own request again
    s.answered_initialize({"capabilities": {}})
    s.note({"method": "initialized", "params": {}})
    for version, name in ((1, "x.py"), (1, "y.py")):
        s.note(
            {
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {
                        "uri": f"file:///a/{name}",
                        "languageId": "python",
                        "version": version,
                        "text": "v = 1\n",
                    }
                },
            }
        )
    s.note(
        {
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": "file:///a/x.py", "version": 7},
                "contentChanges": [_edit(0, 4, 0, 5, "2")],
            },
        }
    )
    s.note(
        {"method": "textDocument/didClose", "params": {"textDocument": {"uri": "file:///a/y.py"}}}
    )
    s.note({"method": "workspace/didChangeConfiguration", "params": {"settings": {"n": 1}}})
    s.note({"method": "workspace/didChangeConfiguration", "params": {"settings": {"n": 2}}})
    s.note(
        {
            "method": "workspace/didChangeWorkspaceFolders",
            "params": {
                "event": {
                    "added": [{"uri": "file:///b", "name": "b"}],
                    "removed": [{"uri": "file:///a", "name": "a"}],
                }
            },
        }
    )

    init, initialized, config, opened = s.replay()
    assert init["id"] == REPLAY_ID and init["method"] == "initialize"
    assert init["params"]["workspaceFolders"] == [{"uri": "file:///b", "name": "b"}]
    assert initialized["method"] == "initialized"
    assert config["params"] == {"settings": {"n": 2}}
    assert opened["params"]["textDocument"] == {
        "uri": "file:///a/x.py",
        "languageId": "python",
        "version": 7,
        "text": "v = 2\n",
    }
