"""Copy a SQLite store built by bench/scale.py into a PostgreSQL database, for benchmarks.

    python bench/pg_copy.py SQLITE_FILE POSTGRES_URL

Building 100k memories through ``remember_many`` on PostgreSQL takes over an hour on this
shared 2-core machine (about 17 memories/s under load; the same code path is measured at
small sizes by bench/scale.py). The search benchmark needs the same memories in both
backends, so this copies every row (memories, vectors, versions, links, the whole graph)
with COPY, then builds the HNSW index once, as a bulk load would. Row ids become memory
ids; capture order (``seq``) follows SQLite's rowids.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.storage import open_storage  # noqa: E402
from core.storage.pg_rows import fts_title, memory_values  # noqa: E402
from core.storage.sqlite_rows import MEMORY_COLUMNS, row_to_memory  # noqa: E402

PG_MEMORY_COLUMNS = [  # the insert order of pg_store
    "id", "title", "fts_title", "content", "content_hash", "kind", "tags", "tags_text",
    "project", "anchor_path", "anchor_start", "anchor_end", "anchor_symbol", "anchor_commit",
    "anchor_fingerprint", "source", "external_id", "source_url", "provenance", "visibility",
    "created_at", "updated_at", "event_at", "version", "metadata",
]  # fmt: skip


def copy(sqlite_file: str, url: str) -> None:
    import psycopg
    from pgvector.psycopg import register_vector

    src = sqlite3.connect(sqlite_file)
    model, dim = (
        dict(src.execute("SELECT key, value FROM meta").fetchall()).get(k)
        for k in ("embedding_model", "embedding_dim")
    )
    open_storage(url).close()  # migrated, empty
    ids = dict(src.execute("SELECT rowid, id FROM memories").fetchall())
    with psycopg.connect(url) as dst:
        register_vector(dst)
        start = time.perf_counter()
        _memories(src, dst)
        _vectors(src, dst, ids)
        _rows(src, dst, ids)
        dst.execute(
            "INSERT INTO devmem_meta(key, value) VALUES ('embedding_model', %s), ('embedding_dim', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (model, dim),
        )
        dst.commit()
        print(f"rows copied in {time.perf_counter() - start:.1f} s", flush=True)
    storage = open_storage(url)
    start = time.perf_counter()
    storage.prepare_vectors(str(model), int(dim or 384))  # the HNSW index, built once
    storage.optimize()
    print(f"HNSW index + ANALYZE in {time.perf_counter() - start:.1f} s", flush=True)
    storage.close()


def _memories(src: sqlite3.Connection, dst: object) -> None:
    cols = ", ".join(PG_MEMORY_COLUMNS)
    with dst.cursor().copy(f"COPY memories ({cols}) FROM STDIN") as cp:  # type: ignore[attr-defined]
        for row in src.execute(f"SELECT {MEMORY_COLUMNS} FROM memories ORDER BY rowid"):
            m = row_to_memory(row)
            values = memory_values(m)
            values["fts_title"] = fts_title(m)
            cp.write_row([values[c] for c in PG_MEMORY_COLUMNS])


def _vectors(src: sqlite3.Connection, dst: object, ids: dict[int, str]) -> None:
    with dst.cursor().copy("COPY memory_vectors (memory_id, model, embedding) FROM STDIN") as cp:  # type: ignore[attr-defined]
        for rowid, model, blob in src.execute("SELECT rowid, model, vector FROM memory_vectors"):
            cp.write_row([ids[rowid], model, np.frombuffer(blob, dtype=np.float32)])


def _rows(src: sqlite3.Connection, dst: object, ids: dict[int, str]) -> None:
    plan = [
        ("memory_versions (memory_id, version, title, content, fields, changed_at, changed_by, pending)",
         "SELECT memory_rowid, version, title, content, fields, changed_at, changed_by, pending FROM memory_versions", (0,)),
        ("memory_links (memory_id, target_id, type, created_at)",
         "SELECT source_rowid, target_rowid, type, created_at FROM memory_links", (0, 1)),
        ("entities (id, type, name, display)", "SELECT id, type, name, display FROM entities", ()),
        ("entity_aliases (alias, entity_id)", "SELECT alias, entity_id FROM entity_aliases", ()),
        ("memory_entities (memory_id, entity_id, confidence, source)",
         "SELECT memory_rowid, entity_id, confidence, source FROM memory_entities ORDER BY rowid", (0,)),
        ("relations (id, src_id, dst_id, type, weight)", "SELECT id, src_id, dst_id, type, weight FROM relations", ()),
        ("relation_evidence (relation_id, memory_id, weight)",
         "SELECT relation_id, memory_rowid, weight FROM relation_evidence", (1,)),
    ]  # fmt: skip
    for target, query, id_columns in plan:
        with dst.cursor().copy(f"COPY {target} FROM STDIN") as cp:  # type: ignore[attr-defined]
            for row in src.execute(query):
                values = list(row)
                for i in id_columns:
                    values[i] = ids[values[i]]
                if target.startswith("memory_versions"):
                    values[-1] = bool(values[-1])
                cp.write_row(values)
    for table in ("entities", "relations"):
        dst.execute(  # type: ignore[attr-defined]
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 1)) FROM {table}"
        )


if __name__ == "__main__":
    copy(sys.argv[1], sys.argv[2])
