"""Graph items → memories, and text out of Office files, without a server."""

from __future__ import annotations

import io
import zipfile

import pytest
from fake_microsoft import chat_message, event, mail

from connectors.m365 import mapping, office

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return buffer.getvalue()


def test_office_text_extraction() -> None:
    docx = _zip(
        {
            "word/document.xml": f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>Fuel</w:t></w:r>'
            f"<w:r><w:tab/><w:t>spec</w:t></w:r></w:p><w:p><w:r><w:t>v2</w:t></w:r></w:p>"
            f"</w:body></w:document>"
        }
    )
    assert office.extract_text("Spec.DOCX", docx) == "Fuel\tspec\nv2"
    slide = f'<p:sld xmlns:p="p" xmlns:a="{A}"><a:p><a:r><a:t>Launch</a:t></a:r></a:p></p:sld>'
    pptx = _zip(
        {"ppt/slides/slide2.xml": slide.replace("Launch", "Second"), "ppt/slides/slide1.xml": slide}
    )
    assert office.extract_text("deck.pptx", pptx) == "## Slide 1\nLaunch\n\n## Slide 2\nSecond"
    xlsx = _zip(
        {
            "xl/workbook.xml": f'<workbook xmlns="{S}"><sheets><sheet name="Budget"/></sheets></workbook>',
            "xl/sharedStrings.xml": f'<sst xmlns="{S}"><si><t>Fuel</t></si></sst>',
            "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{S}"><sheetData><row><c t="s"><v>0</v></c><c><v>42</v></c>'
            f'<c t="inlineStr"><is><t>kg</t></is></c></row></sheetData></worksheet>',
        }
    )
    assert office.extract_text("b.xlsx", xlsx) == "## Budget\nFuel\t42\tkg"
    assert office.extract_text("notes.md", b"# Hi\n") == "# Hi\n"
    with pytest.raises(office.UnreadableDocument):
        office.extract_text("fake.docx", b"not a zip")
    with pytest.raises(office.UnreadableDocument):
        office.extract_text("blob.txt", b"\x00\x01binary")
    assert office.supported("a.md") and not office.supported("photo.png")


def test_reply_and_signature_trimming() -> None:
    assert (
        mapping.trim_reply("Ship it.\n\nOn Mon, 3 Jun 2024, Bob <b@x.io> wrote:\n> old")
        == "Ship it."
    )
    assert mapping.trim_reply("Yes.\n\n-----Original Message-----\nFrom: Bob") == "Yes."
    assert mapping.trim_reply("Thanks\n-- \nAda Lovelace\nCTO") == "Thanks"
    assert mapping.trim_reply("Done.\n\nSent from my iPhone") == "Done."
    assert (
        mapping.trim_reply("-----Original Message-----\nonly a forward") != ""
    )  # nothing left: keep all


def test_mappers_skip_what_is_not_content_and_reject_malformed_items() -> None:
    assert mapping.message(mail("d", "Draft", isDraft=True), "inbox") is None
    with pytest.raises(mapping.MappingError, match="toRecipients"):
        mapping.message(mail("x", "Bad", toRecipients="nobody"), "inbox")
    with pytest.raises(mapping.MappingError, match="start"):
        mapping.event({"id": "e", "subject": "no time"})
    cancelled = mapping.event(event("e", "Retro", isCancelled=True))
    assert cancelled is not None and "Retro (cancelled)" in cancelled.content
    chat = {"id": "c", "topic": "Launch crew", "members": []}
    system = chat_message("s", "", "2024-01-01T00:00:00Z", messageType="systemEventMessage")
    assert mapping.chat_message(system, chat) is None
    posted = mapping.chat_message(
        chat_message("m", "Go <b>for</b> launch", "2024-01-01T00:00:00Z"), chat
    )
    assert posted is not None and posted.title == "Launch crew: Go **for** launch"
    assert posted.metadata["author"] == "Bob Smith"  # no member list: the name is all Graph gives
