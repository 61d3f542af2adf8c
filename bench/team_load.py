"""Team load: many people on one team store, as the team server serves them.

    python bench/team_load.py [--memories 100000] [--people 20] [--seconds 60] [--json]
                              [--pg-url postgresql://owner@host/db]  # else a private server

The store holds ``--memories`` memories written by ``--people`` people (through the service,
each acting as themselves, so row-level security checked every write): 70 % private, 20 %
of one of four teams (five people each, roles admin/editor/viewer), 10 % public. Then the
people work for ``--seconds``: each is a thread of one process whose PostgreSQL pool has 8
connections (the team server's shape: its login role acting as each person, ``SET LOCAL
ROLE``), doing 90 % hybrid recall / 10 % remember. Printed: throughput, p50/p95 per
operation, errors, and the check that no recall ever returned a memory its person may not
see (computed independently from who wrote what, the teams and the visibility); and, one
query at a time, each search mode as the owner (no policy applies) beside a person: what
row-level security costs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import generated_vectors, pct, queries, synth  # noqa: E402

from core import MemoryInput, MemoryService, TeamService, acting_as  # noqa: E402
from core.embeddings import FastEmbedEmbedder  # noqa: E402

TEAMS = 4
CONNECTIONS = 8  # core.storage.pg_db.POOL_MAX: the pool of one service


@dataclass
class World:
    """Who may see what, kept apart from the database (the leak check's truth)."""

    people: list[str]
    team_of: dict[str, int] = field(default_factory=dict)  # person → team id
    roles: dict[str, str] = field(default_factory=dict)  # person → team role
    owner: dict[str, str] = field(default_factory=dict)  # memory → person
    team: dict[str, int] = field(default_factory=dict)  # memory → team (team memories)
    public: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def may_see(self, person: str, memory_id: str) -> bool:
        with self.lock:
            if memory_id in self.public or self.owner.get(memory_id) == person:
                return True
            team = self.team.get(memory_id)
            return team is not None and self.team_of.get(person) == team


def setup(owner_url: str, people: int) -> tuple[str, World]:
    """People, the server's login role, four teams; returns the server's URL."""
    from urllib.parse import quote, urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    tag = secrets.token_hex(2)
    server, password = f"load_server_{tag}", secrets.token_urlsafe(16)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(server), sql.Literal(password)
            )
        )
    owner = TeamService.open(owner_url)
    owner.add_server(server)
    world = World([f"p{i:02d}_{tag}" for i in range(people)])
    for person in world.people:
        owner.add_person(person, server_role=server)
    owner.close()
    parts = urlsplit(owner_url)
    host = parts.netloc.rpartition("@")[2]
    server_url = urlunsplit(parts._replace(netloc=f"{server}:{quote(password, safe='')}@{host}"))
    teams = TeamService.open(server_url)
    for t in range(TEAMS):
        members = world.people[t::TEAMS]
        with acting_as(members[0]):
            team = teams.create_team(f"team{t}_{tag}")
            world.roles[members[0]] = "admin"
            for person, role in zip(members[1:], ["editor", "viewer"] * 10, strict=False):
                teams.add_member(team.name, person, role)
                world.roles[person] = role
        for person in members:
            world.team_of[person] = team.id
    teams.close()
    return server_url, world


def build(svc: MemoryService, teams: TeamService, world: World, size: int, embedder) -> float:
    """``size`` memories written by the people (as themselves); returns seconds."""
    rng, nprng = random.Random(size), np.random.default_rng(size)
    inputs = synth(rng, size)
    bases = embedder.embed_documents([i.content for i in inputs[:2000]])
    names = {t.id: t.name for t in teams.teams()}
    start = time.perf_counter()
    per = -(-size // len(world.people))
    for n, person in enumerate(world.people):
        mine = inputs[n * per : (n + 1) * per]
        with acting_as(person, client="connector"):
            editor = world.roles[person] != "viewer"
            for i in range(0, len(mine), 500):
                chunk = [_placed(inp, rng) for inp in mine[i : i + 500]]
                vectors = generated_vectors(embedder, chunk, nprng, bases)
                results = svc.remember_many(chunk, vectors=vectors)
                for inp, result in zip(chunk, results, strict=True):
                    memory_id = result.memory.id
                    world.owner[memory_id] = person
                    if inp.visibility == "public":
                        world.public.add(memory_id)
                    elif inp.visibility == "team" and editor:
                        teams.share(memory_id, team=names[world.team_of[person]])
                        world.team[memory_id] = world.team_of[person]
        print(f"  … {min((n + 1) * per, size):,}/{size:,}", file=sys.stderr, flush=True)
    return time.perf_counter() - start


def _placed(inp: MemoryInput, rng: random.Random) -> MemoryInput:
    """20 % team (shared after writing: only editors and admins may), 10 % public."""
    roll = rng.random()
    visibility = "team" if roll < 0.2 else "public" if roll < 0.3 else "private"
    return replace(inp, visibility=visibility)


@dataclass
class Tally:
    """Latencies (ms) by operation, errors, and memories returned that should not have been."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {"recall": [], "remember": []})
    errors: list[str] = field(default_factory=list)
    leaks: list[tuple[str, str]] = field(default_factory=list)
    hits_checked: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def person_loop(
    svc: MemoryService, world: World, person: str, stop: float, tally: Tally, seed: int
) -> None:
    rng = random.Random(seed)
    qs = queries(rng, 500)
    n = 0
    while time.perf_counter() < stop:
        n += 1
        remember = rng.random() < 0.10
        t0 = time.perf_counter()
        try:
            with acting_as(person, client="mcp"):
                if remember:
                    text = f"{person} notes: {rng.choice(qs)} (load {n})"
                    memory_id = svc.remember(MemoryInput(text)).memory.id
                    with world.lock:
                        world.owner[memory_id] = person
                else:
                    hits = svc.recall(rng.choice(qs), mode="hybrid", limit=10).hits
        except Exception as exc:  # counted, not fatal: the figure is "errors: 0"
            with tally.lock:
                tally.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        elapsed = (time.perf_counter() - t0) * 1000
        with tally.lock:
            tally.ms["remember" if remember else "recall"].append(elapsed)
        if not remember:
            leaked = [(person, h.memory.id) for h in hits if not world.may_see(person, h.memory.id)]
            with tally.lock:
                tally.hits_checked += len(hits)
                tally.leaks += leaked


def load(svc: MemoryService, world: World, seconds: float) -> dict:
    tally = Tally()
    stop = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=person_loop, args=(svc, world, p, stop, tally, i))
        for i, p in enumerate(world.people)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ops = {
        op: {
            "count": len(v),
            "p50_ms": round(statistics.median(v), 1) if v else None,
            "p95_ms": round(pct(v, 95), 1) if v else None,
        }
        for op, v in tally.ms.items()
    }
    total = sum(len(v) for v in tally.ms.values())
    return {
        "seconds": round(wall, 1),
        "throughput_ops_per_s": round(total / wall, 1),
        "operations": ops,
        "errors": len(tally.errors),
        "error_samples": tally.errors[:5],
        "hits_checked": tally.hits_checked,
        "leaks": len(tally.leaks),
    }


def rls_cost(owner: MemoryService, svc: MemoryService, person: str, n: int = 60) -> dict:
    """One at a time, the same queries as the owner (no policy applies) and as a person:
    what row-level security adds to each search mode."""
    qs = queries(random.Random(7), n)
    out: dict[str, dict[str, float]] = {}
    for mode in ("text", "vector", "graph", "hybrid"):
        for who, service, role in (("owner", owner, None), ("person", svc, person)):
            lat = []
            for q in qs:
                t0 = time.perf_counter()
                with acting_as(role):
                    service.recall(q, mode=mode, limit=10)
                lat.append((time.perf_counter() - t0) * 1000)
            out[f"{mode}_{who}"] = {
                "p50_ms": round(statistics.median(lat), 1),
                "p95_ms": round(pct(lat, 95), 1),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--pg-url", help="an owner's URL of an empty database (else a private server)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    owner_url = args.pg_url
    if owner_url is None:
        from tests import pgserver

        owner_url = pgserver.shared().fresh_database("team_load")
    TeamService.open(owner_url).close()  # migrate as the owner
    server_url, world = setup(owner_url, args.people)
    embedder = FastEmbedEmbedder(Path.home() / ".cache" / "devmemory" / "models").start()
    embedder.wait(600)
    owner = MemoryService.open(owner_url, embedder)
    owner.vectors_usable()  # the owner sizes the vector column for the model (DDL)
    svc = MemoryService.open(server_url, embedder)  # one pool of 8 connections, as the server
    teams = TeamService.open(server_url)
    build_s = build(svc, teams, world, args.memories, embedder)
    svc.storage.optimize()
    print(f"built {args.memories:,} memories in {build_s:.0f} s", file=sys.stderr)
    cost = rls_cost(owner, svc, world.people[1])
    owner.close()
    result = {
        "memories": args.memories,
        "people": args.people,
        "connections": CONNECTIONS,
        "team_memories": len(world.team),
        "public_memories": len(world.public),
        **load(svc, world, args.seconds),
        "one_at_a_time_owner_vs_person": cost,
    }
    svc.close()
    teams.close()
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
