"""Cross-validation of recall's ranking rules on LoCoMo's development split.

    python bench/locomo_cv.py [--data bench/data/locomo_dev.json] [--json]

Each conversation is ingested once (same protocol as bench/locomo.py); its questions are
then asked under every variant below (a variant changes the ranking weights in
``core.search``, nothing else). Prints recall@10 per conversation and variant, and:

* in-sample: the best variant chosen on all five conversations, scored on them;
* held-out: for each of the ten ways to pick three conversations, the variant that is best
  on those three, scored on the other two (averaged over the ten rotations);
* per rule: its gain (as-is minus the variant without it) on each conversation, so a rule
  that helps only the conversations it was fitted on shows.

Pseudo-relevance feedback (words shared by the first three hits added to a second text
search, weight 0.15 or 0.3 of the top score) was judged this way and lost on 3-4 of the 5
conversations (recall@10 0.781 / 0.776 against 0.797 as is), so it is not in core.

Methods judged the same way (issue 18; none gained, none is in core; recall2 report):

* multi-hop, a second step seeded by the first five hits' entities (bench/locomo_hop.py):
  "hop W" lifts memories mentioning those entities by W x the top score (helps 0/5
  conversations at 0.1/0.2/0.4, and 0/5 on the multi-hop questions); "hop text W" adds a
  second text search for the query plus the entities' names (helps 2/5, loses on average);
* "context vectors": each turn embedded with the turn before it prepended (the vector
  only; text search and the stored content unchanged), its own store: helps 1/5.

A variant is a candidate of the held-out choice, so adding ones that only fit some
conversations shows as a held-out figure below "as is" on the same pairs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import locomo_hop  # noqa: E402
from locomo import CACHE, questions, turns  # noqa: E402

from core import search  # noqa: E402
from core.embeddings import Embedder, FastEmbedEmbedder, Vector  # noqa: E402
from core.models import MemoryInput  # noqa: E402
from core.service import MemoryService  # noqa: E402

VARIANTS: dict[str, dict[str, float]] = {
    "as is": {},
    "no question penalty": {"QUESTION_PENALTY": 0.0},
    "no speaker weight": {"SPEAKER_WEIGHT": 0.0},
    "no time window": {"TIME_WEIGHT": 0.0},
    "no context expansion": {"CONTEXT_WEIGHT": 0.0, "ANSWER_WEIGHT": 0.0},
    "no graph": {"GRAPH_WEIGHT": 0.0},
    "text weight 0.5": {"TEXT_WEIGHT": 0.5},
    "text weight 0.7": {"TEXT_WEIGHT": 0.7},
    "hop 0.1": {"HOP_WEIGHT": 0.1},
    "hop 0.2": {"HOP_WEIGHT": 0.2},
    "hop 0.4": {"HOP_WEIGHT": 0.4},
    "hop text 0.15": {"HOP_TEXT_WEIGHT": 0.15},
    "hop text 0.3": {"HOP_TEXT_WEIGHT": 0.3},
}
# Variants that need their own store (the vectors differ), asked with the "as is" weights.
STORE_VARIANTS = ("context vectors",)
MULTI_HOP = 1  # LoCoMo's category for multi-hop questions


def _target(name: str) -> tuple[object, str]:
    return (locomo_hop if name.startswith("HOP") else search), name


def recall_at_10(
    svc: MemoryService, qas: list[dict[str, Any]], weights: dict[str, float]
) -> tuple[float, float]:
    """(recall@10 over all questions, over the multi-hop ones)."""
    saved = {name: getattr(*_target(name)) for name in weights}
    for name, value in weights.items():
        setattr(*_target(name), value)
    try:
        scores, hops = [], []
        for qa in qas:
            hits = svc.recall(qa["question"], limit=10).hits
            got = {h.memory.metadata.get("dia_id") for h in hits}
            evidence = set(qa["evidence"])
            scores.append(len(evidence & got) / len(evidence))
            if qa.get("category") == MULTI_HOP:
                hops.append(scores[-1])
        return statistics.fmean(scores), statistics.fmean(hops) if hops else 0.0
    finally:
        for name, value in saved.items():
            setattr(*_target(name), value)


class ContextEmbedder:
    """Embeds a memory with the turn before it prepended (for the vector only): the
    "neighbouring context" variant. Everything else is the wrapped model's."""

    def __init__(self, inner: Embedder, previous: dict[str, str]) -> None:
        self._inner = inner
        self._previous = previous
        self.identity = inner.identity
        self.dim = inner.dim

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def embed_documents(self, texts: Any) -> Vector:
        return self._inner.embed_documents(
            [f"{self._previous[t]}\n{t}" if self._previous.get(t) else t for t in texts]
        )

    def embed_query(self, text: str) -> Vector:
        return self._inner.embed_query(text)


def _previous_turns(inputs: list[MemoryInput]) -> dict[str, str]:
    return {b.content: a.content for a, b in itertools.pairwise(inputs)}


def _ingest(path: Path, embedder: Any, inputs: list[MemoryInput]) -> MemoryService:
    svc = MemoryService.open(path, embedder)
    for i in range(0, len(inputs), 128):
        svc.remember_many(inputs[i : i + 128])
    return svc


def table(
    samples: list[dict[str, Any]], workdir: Path
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """variant → conversation → recall@10, for all questions and for the multi-hop ones."""
    locomo_hop.install()  # off (weight 0) except in the "hop" variants
    embedder = FastEmbedEmbedder(CACHE).start()
    if not embedder.wait(120):
        sys.exit(f"embedding model unavailable: {embedder.failure()}")
    names = [*VARIANTS, *STORE_VARIANTS]
    out: dict[str, dict[str, float]] = {name: {} for name in names}
    hop: dict[str, dict[str, float]] = {name: {} for name in names}
    for sample in samples:
        conv = str(sample.get("sample_id"))
        inputs, qas = turns(sample["conversation"]), questions(sample)
        svc = _ingest(workdir / f"{conv}.db", embedder, inputs)
        for name, weights in VARIANTS.items():
            out[name][conv], hop[name][conv] = recall_at_10(svc, qas, weights)
        svc.close()
        context = ContextEmbedder(embedder, _previous_turns(inputs))
        svc = _ingest(workdir / f"{conv}-context.db", context, inputs)
        out[STORE_VARIANTS[0]][conv], hop[STORE_VARIANTS[0]][conv] = recall_at_10(svc, qas, {})
        svc.close()
    return out, hop


def cross_validate(scores: dict[str, dict[str, float]], weights: dict[str, int]) -> dict[str, Any]:
    """Choose a variant on three conversations, score it on the other two, every rotation.
    Conversations count by their number of questions (as the benchmark's mean does)."""
    convs = sorted(next(iter(scores.values())))

    def mean(name: str, subset: tuple[str, ...]) -> float:
        total = sum(weights[c] for c in subset)
        return sum(scores[name][c] * weights[c] for c in subset) / total

    held, chosen = [], []
    for train in itertools.combinations(convs, 3):
        test = tuple(c for c in convs if c not in train)
        best = max(scores, key=lambda name: mean(name, train))
        chosen.append(best)
        held.append(mean(best, test))
    best_all = max(scores, key=lambda name: mean(name, tuple(convs)))
    families: dict[str, list[str]] = {}
    for name in scores:
        if name != "as is":
            head, _, last = name.rpartition(" ")
            families.setdefault(head if last.replace(".", "").isdigit() else name, []).append(name)
    per_method = {
        family: {
            "in_sample": {n: round(mean(n, tuple(convs)), 4) for n in ["as is", *members]},
            "held_out": round(_held_out(["as is", *members], convs, mean), 4),
        }
        for family, members in families.items()
    }
    return {
        "in_sample": {"variant": best_all, "recall@10": round(mean(best_all, tuple(convs)), 4)},
        "held_out": round(statistics.fmean(held), 4),
        "as_is_held_out": round(
            statistics.fmean(
                mean("as is", tuple(c for c in convs if c not in t))
                for t in itertools.combinations(convs, 3)
            ),
            4,
        ),
        "chosen": {name: chosen.count(name) for name in sorted(set(chosen))},
        "per_method": per_method,
    }


def _held_out(candidates: list[str], convs: list[str], mean: Any) -> float:
    """Held-out recall@10 when only ``candidates`` may be chosen on the three conversations."""
    held = []
    for train in itertools.combinations(convs, 3):
        test = tuple(c for c in convs if c not in train)
        held.append(mean(max(candidates, key=lambda name: mean(name, train)), test))
    return statistics.fmean(held)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(Path(__file__).parent / "data" / "locomo_dev.json"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    samples = json.loads(Path(args.data).read_text(encoding="utf-8"))
    counts = {str(s.get("sample_id")): len(questions(s)) for s in samples}
    with tempfile.TemporaryDirectory() as tmp:
        scores, hop_scores = table(samples, Path(tmp))
    cv = cross_validate(scores, counts)
    gains = {
        name: {c: round(scores["as is"][c] - v, 4) for c, v in per.items()}
        for name, per in scores.items()
        if name.startswith("no ")
    }
    added = {
        name: {c: round(v - scores["as is"][c], 4) for c, v in per.items()}
        for name, per in scores.items()
        if name.startswith(("hop", "context"))
    }
    hop_gain = {
        name: {c: round(v - hop_scores["as is"][c], 4) for c, v in per.items()}
        for name, per in hop_scores.items()
        if name.startswith(("hop", "context"))
    }
    report = {
        "recall@10": scores,
        "multi_hop_recall@10": hop_scores,
        "cv": cv,
        "gain_of_each_rule": gains,
        "gain_of_each_method": added,
        "multi_hop_gain": hop_gain,
    }
    if args.json:
        print(json.dumps(report))
        return
    convs = list(counts)
    print("recall@10".ljust(22) + "".join(c.rjust(9) for c in convs))
    for name, per in scores.items():
        print(name.ljust(22) + "".join(f"{per[c]:9.3f}" for c in convs))
    print("\ngain of each rule (as is - without it), per conversation:")
    for name, per in gains.items():
        wins = sum(1 for v in per.values() if v > 0)
        print(
            f"  {name[3:]:<20}" + "".join(f"{per[c]:+9.3f}" for c in convs) + f"   helps {wins}/5"
        )
    for title, table_ in (("method", added), ("method on multi-hop questions", hop_gain)):
        print(f"\ngain of each {title} (with it - as is), per conversation:")
        for name, per in table_.items():
            wins = sum(1 for v in per.values() if v > 0)
            print(
                f"  {name:<20}" + "".join(f"{per[c]:+9.3f}" for c in convs) + f"   helps {wins}/5"
            )
    print("\neach method alone (candidates: as is + its variants; choose on 3, score on 2):")
    for family, fig in cv["per_method"].items():
        print(f"  {family:<20} held-out {fig['held_out']:.4f}  in-sample {fig['in_sample']}")
    print(f"\nin-sample: {cv['in_sample']}")
    print(f"held-out (choose on 3, score on 2, 10 rotations): {cv['held_out']}")
    print(f"as is, on the same held-out pairs: {cv['as_is_held_out']}; chosen: {cv['chosen']}")


if __name__ == "__main__":
    main()
