"""Entity-extraction benchmark: quality on the labelled corpus and throughput on one core.

    python bench/extraction.py [--n 20000] [--repeat 3] [--mentions-only]

Mentions in developer text (``bench/data/entities.json``: commit messages, issues, meeting
notes and chat written for it, people and technologies labelled by hand): precision, recall
and F1 per type on its "dev" half (used while tuning the person rules) and its "heldout"
half (scored only after tuning).

Quality is micro precision/recall of (type, canonical name) pairs against
``tests/data/extraction/labelled.jsonl``, per entity type and overall, for the whole corpus and
for each split ("dev" rows were written while the extractor was designed; "holdout" rows were
written afterwards and never used for tuning, so they are the honest estimate).

Throughput runs ``extract()`` over the labelled memories repeated to ``--n`` texts. It reports
the best wall-clock rate of ``--repeat`` runs and the rate per CPU-second of this process (the
latter is stable on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.extract import ENTITY_TYPES, canonical, extract  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "extraction" / "labelled.jsonl"
MENTIONS = ROOT / "bench" / "data" / "entities.json"
MENTION_TYPES = ("person", "technology")


def load() -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def run(row: dict[str, Any]) -> set[tuple[str, str]]:
    entities, _ = extract(
        row["text"],
        title=row["title"],
        kind=row["kind"],
        project=row["project"],
        anchor_path=row["anchor_path"],
        anchor_symbol=row["anchor_symbol"],
        metadata=row["metadata"],
    )
    return {(e.type, e.name) for e in entities}


def score(rows: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        got, gold = run(row), {(t, n) for t, n in row["entities"]}
        for etype, _ in got & gold:
            counts[etype]["tp"] += 1
        for etype, _ in got - gold:
            counts[etype]["fp"] += 1
        for etype, _ in gold - got:
            counts[etype]["fn"] += 1
    return counts


def ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def report(title: str, rows: list[dict[str, Any]]) -> None:
    counts = score(rows)
    total: Counter[str] = Counter()
    print(f"\n{title} (n={len(rows)} memories)")
    print(f"  {'type':<13} {'precision':>9} {'recall':>7} {'tp':>5} {'fp':>4} {'fn':>4}")
    for etype in ENTITY_TYPES:
        c = counts.get(etype, Counter())
        total.update(c)
        p, r = ratio(c["tp"], c["tp"] + c["fp"]), ratio(c["tp"], c["tp"] + c["fn"])
        print(f"  {etype:<13} {p:9.3f} {r:7.3f} {c['tp']:5d} {c['fp']:4d} {c['fn']:4d}")
    p = ratio(total["tp"], total["tp"] + total["fp"])
    r = ratio(total["tp"], total["tp"] + total["fn"])
    print(f"  {'overall':<13} {p:9.3f} {r:7.3f} {total['tp']:5d} {total['fp']:4d} {total['fn']:4d}")


def gold_key(etype: str, surface: str) -> tuple[str, str]:
    """A label as the extractor names it: a technology by its vocabulary name (as written
    when the vocabulary lacks it: a miss), a person by the lower-cased name or handle."""
    if etype == "technology":
        found = canonical(surface)
        return ("technology", found[1] if found else surface.lower())
    return (etype, " ".join(surface.lower().split()))


def mention_counts(docs: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in docs:
        entities, _ = extract(doc["text"], kind=doc["kind"])
        got = {(e.type, e.name) for e in entities if e.type in MENTION_TYPES}
        gold = {gold_key(t, s) for t, s in doc["entities"]}
        for etype, _ in got & gold:
            counts[etype]["tp"] += 1
        for etype, _ in got - gold:
            counts[etype]["fp"] += 1
        for etype, _ in gold - got:
            counts[etype]["fn"] += 1
    return counts


def report_mentions() -> None:
    docs = json.loads(MENTIONS.read_text(encoding="utf-8"))["documents"]
    for split in ("dev", "heldout"):
        part = [d for d in docs if d["split"] == split]
        counts = mention_counts(part)
        labels = sum(len(d["entities"]) for d in part)
        print(f"\nmentions {split} ({len(part)} texts, {labels} labelled mentions)")
        print(
            f"  {'type':<11} {'precision':>9} {'recall':>7} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4}"
        )
        for etype in MENTION_TYPES:
            c = counts[etype]
            p, r = ratio(c["tp"], c["tp"] + c["fp"]), ratio(c["tp"], c["tp"] + c["fn"])
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            print(
                f"  {etype:<11} {p:9.3f} {r:7.3f} {f1:6.3f} {c['tp']:4d} {c['fp']:4d} {c['fn']:4d}"
            )


def throughput(rows: list[dict[str, Any]], n: int, repeat: int) -> tuple[float, float]:
    work = [rows[i % len(rows)] for i in range(n)]
    extract("warm-up: load the vocabulary once")
    best_wall, cpu = float("inf"), 0.0
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        for row in work:
            extract(
                row["text"],
                title=row["title"],
                kind=row["kind"],
                project=row["project"],
                anchor_path=row["anchor_path"],
                anchor_symbol=row["anchor_symbol"],
                metadata=row["metadata"],
            )
        best_wall = min(best_wall, time.perf_counter() - w0)
        cpu += time.process_time() - c0
    return n / best_wall, n * repeat / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="texts per throughput run")
    parser.add_argument(
        "--repeat", type=int, default=3, help="throughput runs (best wall time kept)"
    )
    parser.add_argument(
        "--mentions-only", action="store_true", help="only the mentions in developer text"
    )
    args = parser.parse_args()
    report_mentions()
    if args.mentions_only:
        return
    rows = load()
    report("all", rows)
    for split in sorted({row.get("split", "dev") for row in rows}):
        report(f"split={split}", [row for row in rows if row.get("split", "dev") == split])
    wall, cpu = throughput(rows, args.n, args.repeat)
    print(
        f"\nthroughput: {wall:,.0f} memories/s wall (best of {args.repeat} x {args.n:,}), "
        f"{cpu:,.0f} memories per CPU-second"
    )


if __name__ == "__main__":
    main()
