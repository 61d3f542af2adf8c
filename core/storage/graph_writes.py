"""What both backends do alike when they write a memory's graph: extract its entities and
relations, hand them to the backend's writer, and turn connector entities into mentions and
relations. The writer (``sqlite_graph_index._Writer``, ``pg_graph_index._Writer``) owns the SQL;
``K`` is how it names a memory (SQLite's rowid, PostgreSQL's id)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from core import extract
from core.models import EntityRef, Memory

SUBJECT_TYPES = ("meeting", "issue", "repository", "project", "file", "symbol")
Extracted = tuple[list[extract.ExtractedEntity], list[extract.ExtractedRelation]]
Refs = dict[
    str, list[list[str | None]]
]  # memory key → connector entities (type, name, display, relation)

K = TypeVar("K", contravariant=True)


class GraphWriter(Protocol[K]):
    """A backend's graph writer, as the shared steps use it."""

    def entities(self, wanted: Sequence[tuple[str, str, str]]) -> None:
        """Get ready to resolve these (type, name, display) at once (a no-op if one by one pays)."""

    def entity(self, etype: str, name: str, display: str, aliases: Iterable[str]) -> int:
        """The entity's id, created or updated with its aliases."""

    def mention(self, memory: K, entity_id: int, confidence: float, source: str) -> None:
        """Record that ``memory`` mentions the entity."""

    def relate(self, src: int, dst: int, rtype: str, memory: K, weight: float) -> None:
        """Record ``memory`` as evidence of the relation src → dst."""


def extract_of(m: Memory) -> Extracted:
    """The entities and relations of a memory's text and fields."""
    return extract.extract(
        m.content,
        title=m.title,
        kind=m.kind,
        anchor_path=m.anchor.path if m.anchor else None,
        anchor_symbol=m.anchor.symbol if m.anchor else None,
        project=m.project,
        metadata=m.metadata,
    )


def store(w: GraphWriter[K], memory: K, found: Extracted, refs: Sequence[EntityRef]) -> int:
    """Write extracted entities and relations (then connector entities); the entity count."""
    entities, relations = found
    w.entities([(e.type, e.name, e.display) for e in entities])
    ids: dict[tuple[str, str], int] = {}
    for ent in entities:
        ids[(ent.type, ent.name)] = entity_id = w.entity(
            ent.type, ent.name, ent.display, ent.aliases
        )
        w.mention(memory, entity_id, ent.confidence, ent.source)
    for rel in relations:
        src, dst = ids.get(rel.src), ids.get(rel.dst)
        if src is not None and dst is not None and src != dst:
            w.relate(src, dst, rel.type, memory, rel.weight)
    if refs:
        _store_refs(w, memory, ids, refs)
    return len(ids)


def _store_refs(
    w: GraphWriter[K], memory: K, ids: dict[tuple[str, str], int], refs: Sequence[EntityRef]
) -> None:
    """Connector entities: a person "authored"/"attended"… the memory's subjects (its files,
    issue, meeting…); an organisation's "member_of" takes the people of its mail domain."""
    merged: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for ref in refs:
        key = (ref.type, ref.name.strip().lower())
        display, rels = merged.setdefault(key, (ref.display or ref.name, []))
        if ref.relation and ref.relation not in rels:
            rels.append(ref.relation)
    for key, (display, rels) in merged.items():
        ids[key] = entity_id = w.entity(key[0], key[1], display, (key[1],))
        w.mention(memory, entity_id, 1.0, "connector" + (":" + ",".join(rels) if rels else ""))
    subjects = [entity_id for k, entity_id in ids.items() if k[0] in SUBJECT_TYPES][:10]
    for key, (_, rels) in merged.items():
        if key[0] in SUBJECT_TYPES:  # "attended" on a meeting says how its actors relate to it
            continue
        for rel in rels:
            if rel == "member_of":
                for member in (
                    i for k, i in ids.items() if k[0] == "person" and _in_domain(k[1], key[1])
                ):
                    w.relate(member, ids[key], rel, memory, 1.0)
            else:
                for subject in (s for s in subjects if s != ids[key]):
                    w.relate(ids[key], subject, rel, memory, 1.0)


def _in_domain(email: str, domain: str) -> bool:
    host = email.rpartition("@")[2]
    return "@" in email and (host == domain or host.endswith("." + domain))


def ref_of(row: Sequence[str | None]) -> EntityRef:
    """A stored connector entity (type, name, display, relation) as an EntityRef."""
    return EntityRef(str(row[0]), str(row[1]), row[2], row[3])


def merge_refs(into: Refs, more: Refs) -> None:
    """Add ``more``'s connector entities to ``into``, each once per memory."""
    for key, found in more.items():
        have = into.setdefault(key, [])
        have += [r for r in found if r not in have]
