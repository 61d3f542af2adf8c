"""People in the knowledge graph: names in prose (with a precision guard), one person across
addresses, names and handles when the evidence says so, one type per entity."""

from __future__ import annotations

import pytest

from connectors.git import is_person
from core.extract import extract
from core.models import EntityRef, MemoryInput
from core.service import MemoryService
from tests import sqlite_backend


def people(text: str, **kw: object) -> set[str]:
    entities, _ = extract(text, **kw)  # type: ignore[arg-type]
    return {e.name for e in entities if e.type == "person"}


def test_people_named_in_prose_are_entities() -> None:
    assert people(
        "Alice Chen moved the billing service from Flask to FastAPI; Bob Smith reviewed it in PR #42"
    ) == {"alice chen", "bob smith"}
    # a lone first name that starts a full name here is that person, not a second one
    assert people(
        "Met with Priya Natarajan and @jdoe about the Kafka outage; Priya owns the consumer fix"
    ) == {"priya natarajan", "@jdoe"}
    assert people("Retro with Daniel Okafor, Mei Lin and Tom: the move took two sprints") == {
        "daniel okafor",
        "mei lin",
        "tom",
    }
    assert people("thanks Marco, the eviction change fixed it") == {"marco"}


@pytest.mark.parametrize(
    "text",
    [
        "Grant Access to the staging bucket for the CI role",  # a title, not Grant Access
        "Will Rust bindings help here?",
        "May release is slipping behind the Pull Request queue",
        "Asked Claude to rewrite the migration in SQLAlchemy style",  # the assistant
        "Ping Oliver's Law Review Board",  # capitalised words, no cue
        "Update Release Notes for Monday",
    ],
)
def test_capitalised_words_are_not_people(text: str) -> None:
    assert people(text) - {"oliver"} == set()


def test_a_name_that_is_a_technology_stays_one_type() -> None:
    entities, _ = extract("Asked Claude to refactor src/parser.py; Ruby Chen reviewed it")
    types = {(e.type, e.name) for e in entities}
    assert ("technology", "claude") in types and ("person", "claude") not in types
    assert ("person", "ruby chen") in types and ("technology", "ruby") not in types


def test_a_signature_first_name_is_the_sender() -> None:
    meta = {"from": "Priya Raman <priya@acme.io>", "to": "tomasz@acme.io"}
    assert people("Works for us.\n\nThanks,\nPriya", kind="email", metadata=meta) == {
        "priya@acme.io",
        "tomasz@acme.io",
    }


def person_rows(svc: MemoryService) -> dict[str, set[str]]:
    conn = sqlite_backend.conn(svc)
    out: dict[str, set[str]] = {}
    for entity_id, name in conn.execute("SELECT id, name FROM entities WHERE type = 'person'"):
        aliases = conn.execute("SELECT alias FROM entity_aliases WHERE entity_id = ?", (entity_id,))
        out[name] = {a for (a,) in aliases}
    return out


def commit(svc: MemoryService, sha: str, name: str, email: str) -> None:
    svc.remember(
        MemoryInput(
            f"Fix {sha}",
            kind="commit",
            source="git",
            external_id=f"repo:{sha}",
            metadata={"author": name, "author_email": email},
            entities=[EntityRef("person", email, name, "authored")],
        )
    )


def test_one_person_across_addresses_and_prose_but_not_across_first_names(
    svc: MemoryService,
) -> None:
    commit(svc, "a1", "Alice Chen", "alice@old.example.com")
    commit(svc, "a2", "Alice Chen", "alice.chen@new.example.com")  # same name, second address
    svc.remember(MemoryInput("Alice Chen moved billing to FastAPI"))
    commit(svc, "b1", "Alice Moreau", "alice@other.example.org")  # another Alice
    svc.remember(MemoryInput("Jane Doe (@jdoe) pushed the fix"))
    svc.remember(MemoryInput("@jdoe can you re-run the pipeline?"))
    rows = person_rows(svc)
    chen = [n for n, aliases in rows.items() if "alice chen" in aliases]
    assert len(chen) == 1
    assert {"alice@old.example.com", "alice.chen@new.example.com"} <= rows[chen[0]]
    assert "alice@other.example.org" not in rows[chen[0]]
    assert "alice@other.example.org" in rows  # Alice Moreau is her own person
    handle = [n for n, aliases in rows.items() if "@jdoe" in aliases]
    assert len(handle) == 1 and "jane doe" in rows[handle[0]]


def test_tools_and_bots_are_not_commit_authors() -> None:
    assert not is_person("Claude", "noreply@anthropic.com")
    assert not is_person("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
    assert is_person("Jane Doe", "1234+jdoe@users.noreply.github.com")
    assert is_person("Alice Chen", "alice@example.com")
