"""Multi-hop retrieval, as evaluated by bench/locomo_cv.py (not in core: it lost held-out).

A second retrieval step seeded by the entities of the first step's best hits.

A question such as "what did the person who fixed the Kafka outage move to FastAPI?" names
neither the person nor the move; the first hits name the person, and the memories that
mention that person hold the answer. ``second_hop`` gives memories mentioning the entities
of the top ``HOP_SEEDS`` hits (entities the query itself names are left out: the first step
already found those) a share of the seed's score, weighted by the entity's rarity.
``HOP_TEXT_WEIGHT`` is the other form: a second text search for the query's words plus the
seeds' entity names. Both are off (weight 0) unless a variant sets them.

``install()`` runs ``second_hop`` inside ``core.recall`` after context expansion (it wraps
the speaker step, the next one, which receives the query), so a variant changes nothing
else. Measured outcome (recall@10, 5 LoCoMo dev conversations): by entity mentions 0/5
conversations helped at weights 0.1/0.2/0.4, also 0/5 on multi-hop questions; the text
form helped 2/5 overall and lost on average; see /tmp/reports/recall2.md.
"""

from __future__ import annotations

import math
from typing import Any

from core import graph, recall, search
from core.models import SearchFilters
from core.storage import Storage

HOP_WEIGHT = 0.0  # share of the top score given to the best second-hop memory
HOP_TEXT_WEIGHT = 0.0  # weight of the second text search (query + the seeds' entity names)
HOP_SEEDS = 5  # first-step hits whose entities seed the second step
HOP_DEPTH = 30  # latest mentions taken per seed entity
MAX_SEED_ENTITIES = 8


def seed_entities(
    store: Storage, merged: dict[str, search.Candidate], query: str
) -> dict[int, float]:
    """Entity id → best score of a top hit mentioning it (entities the query names excluded)."""
    top = sorted(merged.values(), key=lambda c: c.score, reverse=True)[:HOP_SEEDS]
    named = set(graph.find_entities(store, query))
    seeds: dict[int, float] = {}
    for cand in top:
        for entity_id in store.entities_of(cand.memory_id):
            if entity_id not in named:
                seeds[entity_id] = max(seeds.get(entity_id, 0.0), cand.score)
    best = sorted(seeds.items(), key=lambda kv: kv[1], reverse=True)[:MAX_SEED_ENTITIES]
    return dict(best)


def second_hop(
    store: Storage,
    merged: dict[str, search.Candidate],
    query: str,
    filters: SearchFilters | None,
) -> None:
    """Lift (or add) memories reached through the first hits' entities."""
    if not merged or (HOP_WEIGHT <= 0 and HOP_TEXT_WEIGHT <= 0):
        return
    seeds = seed_entities(store, merged, query)
    if not seeds:
        return
    top = max(c.score for c in merged.values())
    if HOP_WEIGHT > 0:
        _lift(merged, _by_mentions(store, seeds, filters), HOP_WEIGHT * top)
    if HOP_TEXT_WEIGHT > 0:
        names = " ".join(e.display for e in graph.summaries(store, list(seeds)))
        found = search.text_search(store, f"{query} {names}", filters, HOP_DEPTH)
        _lift(merged, dict(found), HOP_TEXT_WEIGHT * top)


def _by_mentions(
    store: Storage, seeds: dict[int, float], filters: SearchFilters | None
) -> dict[str, float]:
    scores: dict[str, float] = {}
    for entity_id, seed_score in seeds.items():
        rarity = 1.0 / math.log2(2 + store.mention_count(entity_id))
        for memory_id, confidence in store.mentions(entity_id, filters, HOP_DEPTH):
            scores[memory_id] = scores.get(memory_id, 0.0) + seed_score * confidence * rarity
    return scores


def _lift(merged: dict[str, search.Candidate], scores: dict[str, float], share: float) -> None:
    high = max(scores.values(), default=0.0)
    if high <= 0:
        return
    for memory_id, score in scores.items():
        cand = merged.get(memory_id)
        if cand is None:
            merged[memory_id] = cand = search.Candidate(memory_id)
        cand.score += share * score / high
        cand.ranks.setdefault("hop", 1)


def install() -> None:
    """Run the second hop in ``core.recall`` between context expansion and the speaker step."""
    original = recall._favour_speakers
    if getattr(original, "hop_installed", False):
        return

    def hop_then_speakers(svc: Any, merged: dict[str, search.Candidate], query: str) -> None:
        second_hop(svc.storage, merged, query, None)
        original(svc, merged, query)

    hop_then_speakers.hop_installed = True  # type: ignore[attr-defined]
    recall._favour_speakers = hop_then_speakers
