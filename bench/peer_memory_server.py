"""LoCoMo retrieval through the official MCP memory server (@modelcontextprotocol/server-memory),
the same protocol and data as bench/locomo.py, driven through its MCP tools.

    npm install --prefix DIR @modelcontextprotocol/server-memory
    python bench/peer_memory_server.py --server "node DIR/node_modules/@modelcontextprotocol/server-memory/dist/index.js"
                                       [--data bench/data/locomo_dev.json] [--json]

The server keeps a knowledge graph in a JSON Lines file: each turn becomes an entity (name =
its dia_id, type "turn", one observation = the same text DevMemory stores; the server has
no field for the session's date). Its only search, ``search_nodes``, returns the entities
whose name, type or an observation contains the query (case-insensitive substring), in file
order, without a score. Two ways of asking it, both top 10:

* ``whole``: the question as the query, as the tool is documented;
* ``words``: one ``search_nodes`` per search word of the question (DevMemory's tokenizer and
  stopwords, ``core.search.words``), entities ranked by how many words they contain, ties in
  file order: what an assistant does when the whole question finds nothing.

Prints evidence recall@5/@10, hit@10 and the search p50/p95 per question (all its calls).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from locomo import percentile, turns  # noqa: E402
from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402

from core.search import words  # noqa: E402

BATCH = 200


async def _found(session: ClientSession, query: str) -> list[str]:
    result = await session.call_tool("search_nodes", {"query": query})
    data = result.structured_content or json.loads(getattr(result.content[0], "text", "{}"))
    return [e["name"] for e in data.get("entities", [])]


async def _ranked(session: ClientSession, question: str, how: str) -> list[str]:
    if how == "whole":
        return (await _found(session, question))[:10]
    counts: Counter[str] = Counter()
    order: dict[str, int] = {}
    for word in words(question):
        for position, name in enumerate(await _found(session, word)):
            counts[name] += 1
            order.setdefault(name, position)
    return sorted(counts, key=lambda n: (-counts[n], order[n]))[:10]


async def _conversation(
    command: list[str], sample: dict[str, Any], workdir: Path, figures: dict[str, list[float]]
) -> None:
    env = {
        **os.environ,
        "MEMORY_FILE_PATH": str(workdir / f"{sample.get('sample_id', id(sample))}.jsonl"),
    }
    params = StdioServerParameters(command=command[0], args=command[1:], env=env)
    entities = [
        {"name": m.metadata["dia_id"], "entityType": "turn", "observations": [m.content]}
        for m in turns(sample["conversation"])
    ]
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        start = time.perf_counter()
        for i in range(0, len(entities), BATCH):
            await session.call_tool("create_entities", {"entities": entities[i : i + BATCH]})
        figures["ingest_s"].append(time.perf_counter() - start)
        figures["ingest_n"].append(len(entities))
        for qa in sample["qa"]:
            if qa.get("category") not in (1, 2, 3, 4) or not qa.get("evidence"):
                continue
            evidence = set(qa["evidence"])
            for how in ("whole", "words"):
                t0 = time.perf_counter()
                got = await _ranked(session, qa["question"], how)
                figures[f"{how}_ms"].append((time.perf_counter() - t0) * 1000)
                figures[f"{how}_r5"].append(len(evidence & set(got[:5])) / len(evidence))
                figures[f"{how}_r10"].append(len(evidence & set(got[:10])) / len(evidence))
                figures[f"{how}_hit10"].append(1.0 if evidence & set(got[:10]) else 0.0)


def _report(figures: dict[str, list[float]]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for how in ("whole", "words"):
        report[how] = {
            "recall@5": round(statistics.fmean(figures[f"{how}_r5"]), 4),
            "recall@10": round(statistics.fmean(figures[f"{how}_r10"]), 4),
            "hit@10": round(statistics.fmean(figures[f"{how}_hit10"]), 4),
            "search_p50_ms": round(percentile(figures[f"{how}_ms"], 50), 2),
            "search_p95_ms": round(percentile(figures[f"{how}_ms"], 95), 2),
        }
    report["ingest_per_s"] = round(sum(figures["ingest_n"]) / sum(figures["ingest_s"]), 1)
    report["questions"] = len(figures["whole_r10"])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", required=True, help="the command that starts the server")
    parser.add_argument("--data", default=str(Path(__file__).parent / "data" / "locomo_dev.json"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    samples = json.loads(Path(args.data).read_text(encoding="utf-8"))
    figures: dict[str, list[float]] = {}
    for key in ("ingest_s", "ingest_n"):
        figures[key] = []
    for how in ("whole", "words"):
        for key in ("ms", "r5", "r10", "hit10"):
            figures[f"{how}_{key}"] = []

    async def run_all() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            for sample in samples:
                await _conversation(shlex.split(args.server), sample, Path(tmp), figures)

    anyio.run(run_all)
    report = _report(figures)
    if args.json:
        print(json.dumps(report))
        return
    print(f"official MCP memory server, LoCoMo ({args.data}): {report['questions']} questions")
    for how in ("whole", "words"):
        print(f"  {how}: " + ", ".join(f"{k} {v}" for k, v in report[how].items()))
    print(f"  ingest: {report['ingest_per_s']} turns/s")


if __name__ == "__main__":
    main()
