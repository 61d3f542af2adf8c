"""Stress benchmark: the long runs behind tests/reliability (issue #9), with their figures.

    python bench/stress.py                       # 60 s load + 50 kills with the model
    python bench/stress.py --seconds 120 --kills 100 --items 5000
    python bench/stress.py --skip-kills --json    # the load only, figures as JSON

Load: 2 `devmem-mcp` (SDK stdio clients looping remember/recall), 1 `devmem-lsp` (remember,
hover, open, search) and a `devmem sync markdown` loop, all on one store, all with the real
embedding model (tests/reliability/load.py). Kills: a bulk import (core's sync_batch in
batches of 8) SIGKILLed at random moments, every run with the model, the store checked
after each kill (tests/reliability/kills.py). Prints ops/s per client, acknowledged and lost
writes, "database is locked" errors, kills survived, duplicates and integrity.
The exit status is 0 only when nothing was lost, locked, duplicated or inconsistent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.reliability.helpers import server_env  # noqa: E402
from tests.reliability.kills import KillReport, run_kills  # noqa: E402
from tests.reliability.load import LoadReport, run_load  # noqa: E402


def load_figures(r: LoadReport) -> dict[str, object]:
    return {
        "seconds": r.seconds,
        "ops_per_s": {c: round(n / r.seconds, 1) for c, n in sorted(r.ops.items())},
        "acknowledged_writes": dict(sorted(r.writes.items())) | {"total": sum(r.writes.values())},
        "lost_writes": len(r.lost),
        "locked_errors": len(r.locked),
        "other_errors": len(r.errors),
        "cross_process_reads_verified": r.reads_verified,
        "hovers_with_memory": r.hovers_with_memory,
        "hybrid_misses_of_the_exact_match": len(r.search_misses),
        "store_problems": r.problems,
        "doctor_check_exit": r.doctor_rc,
    }


def kill_figures(r: KillReport) -> dict[str, object]:
    return {
        "kills_survived": r.kills,
        "during_writes": r.during_writes,
        "before_first_commit": r.before_first_commit,
        "with_model": r.with_model,
        "acknowledged_writes": r.acked_total(),
        "problems": r.problems,
        "duplicates": r.duplicates,
        "jobs": r.jobs,
        "final_counts": r.final_count,
        "seconds": round(r.seconds, 1),
    }


def ok(load: LoadReport | None, kills: KillReport | None, items: int) -> bool:
    good = True
    if load is not None:
        good &= (
            not (load.lost or load.locked or load.errors or load.problems) and load.doctor_rc == 0
        )
    if kills is not None:
        good &= not kills.problems and kills.duplicates == 0
        good &= set(kills.final_count.values()) == {items}
    return good


def print_text(load: LoadReport | None, kills: KillReport | None) -> None:
    if load is not None:
        print(f"load ({load.seconds:.0f} s, 2 MCP + 1 LSP + sync, real model)")
        for client, n in sorted(load.ops.items()):
            print(
                f"  {client:6} {n / load.seconds:6.1f} ops/s  {load.writes[client]:5} acknowledged writes"
            )
        print(
            f"  acknowledged writes {sum(load.writes.values())}, lost {len(load.lost)}, "
            f"'database is locked' errors {len(load.locked)}, other errors {len(load.errors)}"
        )
        print(
            f"  cross-process reads verified {load.reads_verified}, hovers showing a memory "
            f"{load.hovers_with_memory}, hybrid top-5 misses of the exact match {len(load.search_misses)}"
        )
        print(
            f"  integrity + indexes: {'ok' if not load.problems else load.problems}; "
            f"devmem doctor --check exit {load.doctor_rc}"
        )
        for error in load.errors[:20]:
            print(f"  ! {error}")
    if kills is not None:
        print(f"kills ({kills.seconds:.0f} s, bulk import with the model)")
        print(
            f"  kills survived {kills.kills} ({kills.during_writes} during writes, "
            f"{kills.before_first_commit} before a run's first commit, {kills.with_model} with the model)"
        )
        print(
            f"  acknowledged writes {kills.acked_total()}, problems {len(kills.problems)}, "
            f"duplicates {kills.duplicates}, jobs {kills.jobs}, final counts {kills.final_count}"
        )
        print(f"  integrity after every kill: {'ok' if not kills.problems else 'FAILED'}")
        for problem in kills.problems[:20]:
            print(f"  ! {problem}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--seconds", type=float, default=60.0, help="length of the mixed load (default 60)"
    )
    p.add_argument("--kills", type=int, default=50, help="SIGKILLs of the bulk import (default 50)")
    p.add_argument("--items", type=int, default=2_500, help="items per import job (default 2500)")
    p.add_argument("--text-only-kills", action="store_true", help="kill runs without the model")
    p.add_argument("--skip-load", action="store_true")
    p.add_argument("--skip-kills", action="store_true")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--keep", action="store_true", help="keep the work folder (printed)")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="devmem-stress-"))
    cache = Path(os.environ.get("DEVMEM_CACHE_DIR") or work / "cache")
    load = kills = None
    if not args.skip_load:
        (work / "load").mkdir()
        db = work / "load" / "memories.db"
        load = asyncio.run(run_load(db, server_env(db, cache), work / "load", args.seconds))
    if not args.skip_kills:
        (work / "kills").mkdir()
        db = work / "kills" / "memories.db"
        kills = run_kills(
            db,
            server_env(db, cache),
            work / "kills",
            kills=args.kills,
            n=args.items,
            model=lambda _: not args.text_only_kills,
        )
    if args.json:
        print(
            json.dumps(
                {
                    "load": load_figures(load) if load else None,
                    "kills": kill_figures(kills) if kills else None,
                    "ok": ok(load, kills, args.items),
                },
                indent=2,
                default=str,
            )
        )
    else:
        print_text(load, kills)
        print(
            "OK: nothing lost, locked, duplicated or inconsistent"
            if ok(load, kills, args.items)
            else "FAILED: see the lines marked !"
        )
    if args.keep:
        print(f"work folder: {work}", file=sys.stderr)
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok(load, kills, args.items) else 1


if __name__ == "__main__":
    sys.exit(main())
