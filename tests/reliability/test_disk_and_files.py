"""Disk and files: read-only store, full disk, damaged file: a clear error, no data destroyed,
and `devmem doctor` / `devmem backup` + `export` give the way back.

Root ignores file permissions, so a read-only store is tested as the user ``nobody``
(``setpriv``) when the suite runs as root, with chmod otherwise, plus a read-only bind
mount (EROFS) where mount namespaces are allowed. A full disk is a 2 MB tmpfs where
mounting is allowed, and always a size-limited file (``PRAGMA max_page_count``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import maintenance
from core.errors import StoreError
from core.models import MemoryInput
from tests import sqlite_backend
from tests.reliability.helpers import DEVMEM, cli, opened, store_problems

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

NOBODY = 65534


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_clear_line(run: subprocess.CompletedProcess[str], *words: str, doctor: bool = False) -> str:
    """A failed command's message: non-zero exit, no traceback, the expected words, and an
    ``error:`` line (`devmem doctor` prints its checks instead)."""
    text = run.stderr + run.stdout
    assert run.returncode != 0, text
    assert "Traceback" not in text, text[-2000:]
    assert doctor or "error:" in text, text
    for word in words:
        assert word in text.lower(), (word, text)
    return text


def make_store(env: dict[str, str], n: int = 3) -> Path:
    for i in range(n):
        assert (
            cli(env, "add", f"Memory {i}: the deploy key rotates every {i + 1} days.").returncode
            == 0
        )
    return Path(env["DEVMEM_DB"])


# ---- read-only -----------------------------------------------------------------------------
def _can_setpriv() -> bool:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return False
    probe = subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            DEVMEM,
            "--version",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0


def _readonly_runner(db: Path) -> tuple[str, list[str]]:
    """How to run the CLI so that ``db`` and its folder are readable but not writable to it.

    Root ignores permissions: it runs as ``nobody`` when ``nobody`` can reach the venv, else
    in a private mount namespace where the store's folder is a read-only bind mount (a
    checkout inside a 0700 folder); as any other user, chmod is enough."""
    if os.geteuid() != 0:
        db.chmod(0o444)
        db.parent.chmod(0o555)
        return "chmod 0444/0555", []
    if _can_setpriv():
        db.parent.chmod(0o755)
        db.chmod(0o644)  # owned by root: readable, not writable, to nobody
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        assert subprocess.run([*prefix, "test", "-r", str(db)], check=False).returncode == 0
        assert subprocess.run([*prefix, "test", "-w", str(db)], check=False).returncode != 0
        return "as nobody (setpriv)", prefix
    if _can_unshare_mount():
        folder = str(db.parent)
        script = f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" && exec "$@"'
        return "read-only bind mount (root, venv out of nobody's reach)", [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ]
    pytest.skip(
        "root without setpriv to an unprivileged user or mount namespaces: "
        "no way to make a file read-only to this process"
    )


def test_a_read_only_store_gives_a_clear_error_and_is_left_unchanged(text_env, figures):
    # Outside pytest's tmp tree: its 0700 folders would stop `nobody` before the file does.
    shared = Path(tempfile.mkdtemp(prefix="devmem-readonly-"))
    shared.chmod(0o755)
    cache = shared / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    env = {
        **text_env,
        "DEVMEM_DB": str(shared / "store" / "memories.db"),
        "DEVMEM_CACHE_DIR": str(cache),
        "HOME": str(cache),
    }
    try:
        db = make_store(env)
        before = sha(db)
        how, prefix = _readonly_runner(db)

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*prefix, DEVMEM, *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        try:
            one_clear_line(run("add", "this cannot be written"), "read-only")
            for read in (run("list"), run("search", "deploy key"), run("export", "-")):
                if read.returncode != 0:  # reading may be refused, but clearly
                    one_clear_line(read, "read-only")
            one_clear_line(run("doctor"), "read-only", doctor=True)
        finally:
            db.parent.chmod(0o755)
            db.chmod(0o644)
        assert sha(db) == before
        with opened(db) as svc:
            assert svc.store.count() == 3 and store_problems(svc) == []
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    figures["disk: read-only store"] = f"write refused with a clear error, file unchanged ({how})"


def _can_unshare_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return (
        subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False).returncode == 0
    )


def test_a_store_on_a_read_only_mount_gives_a_clear_error(tmp_path, text_env, figures):
    """EROFS, as on a read-only volume (a bind mount in a private mount namespace)."""
    if not _can_unshare_mount():
        figures["disk: read-only mount"] = "not run (needs root and mount namespaces)"
        return
    db = make_store(text_env)
    before = sha(db)
    folder = str(db.parent)
    script = (
        f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" && '
        f'exec "{DEVMEM}" add "this cannot be written"'
    )
    run = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        env=text_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    text = one_clear_line(run)
    assert any(w in text.lower() for w in ("read-only", "readonly", "cannot open")), text
    assert sha(db) == before
    figures["disk: read-only mount"] = "write refused with a clear error, file unchanged (EROFS)"


# ---- full disk -----------------------------------------------------------------------------
@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "2m") -> Iterator[bool]:
    """A tmpfs of ``size`` at ``path`` (yields False where mounting is not allowed)."""
    path.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def fill(svc, prefix: str) -> tuple[list[str], BaseException]:
    """Write 20 KB memories until the store refuses; the acknowledged ids and the refusal."""
    acked: list[str] = []
    for i in range(10_000):
        try:
            result = svc.remember(MemoryInput(content=f"{prefix} {i} " + f"filler {i} " * 2000))
        except Exception as exc:  # what the caller sees, whatever it is
            return acked, exc
        acked.append(result.memory.id)
    raise AssertionError("the disk never filled up")


def check_after_full(svc, acked: list[str], error: BaseException) -> None:
    assert isinstance(error, StoreError), (
        f"{type(error).__module__}.{type(error).__name__}: {error}"
    )
    assert "full" in str(error).lower()
    assert store_problems(svc) == []
    for memory_id in acked:
        svc.get(memory_id)


def test_a_full_disk_refuses_the_write_and_keeps_every_acknowledged_one(tmp_path, figures):
    from core.embeddings import UnavailableEmbedder
    from core.service import MemoryService

    with small_tmpfs(tmp_path / "small") as mounted:
        if not mounted:
            figures["disk: full tmpfs"] = "not run (mounting a tmpfs needs root)"
            return
        ballast = tmp_path / "small" / "ballast"
        ballast.write_bytes(b"\0" * 400_000)
        svc = MemoryService.open(
            tmp_path / "small" / "memories.db", UnavailableEmbedder("text only")
        )
        try:
            acked, error = fill(svc, "tmpfs")
            check_after_full(svc, acked, error)
            ballast.unlink()  # space again: writing works again, nothing was lost
            svc.remember(MemoryInput(content="written after space was freed"))
            assert svc.store.count() == len(acked) + 1 and store_problems(svc) == []
        finally:
            svc.close()
        env = {
            **os.environ,
            "DEVMEM_DB": str(tmp_path / "small" / "memories.db"),
            "DEVMEM_EMBEDDINGS": "0",
        }
        acked_cli = 0
        for i in range(100):
            run = subprocess.run(
                [DEVMEM, "add", "-"],
                input=f"cli {i} " + "z" * 300_000,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if run.returncode != 0:
                one_clear_line(run, "full")
                break
            acked_cli += 1
        else:
            raise AssertionError("the CLI never hit the full disk")
    figures["disk: full tmpfs"] = (
        f"{len(acked)} writes acknowledged, then a clear 'disk is full' "
        f"error; all kept; writes resume once space is freed; the CLI "
        f"stored {acked_cli} then refused with one clear line"
    )


def test_a_size_limited_file_refuses_the_write_cleanly(tmp_path):
    """The same without root: SQLite's max_page_count makes the file 'full'."""
    from core.embeddings import UnavailableEmbedder
    from core.service import MemoryService

    svc = MemoryService.open(tmp_path / "memories.db", UnavailableEmbedder("text only"))
    try:
        svc.remember(MemoryInput(content="before the limit"))
        pages = int(sqlite_backend.conn(svc).execute("PRAGMA page_count").fetchone()[0])
        sqlite_backend.conn(svc).execute(f"PRAGMA max_page_count = {pages + 40}")
        acked, error = fill(svc, "limited")
        check_after_full(svc, acked, error)
    finally:
        svc.close()


# ---- a damaged file ------------------------------------------------------------------------
def _damage_header(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[0:100] = b"this is not a SQLite header any more " * 2 + b"x" * 26
    db.write_bytes(bytes(data))


def test_a_damaged_file_is_reported_not_replaced_and_doctor_explains_recovery(
    tmp_path, text_env, figures
):
    db = make_store(text_env)
    backup = tmp_path / "backup.db"
    assert cli(text_env, "backup", str(backup)).returncode == 0
    _damage_header(db)
    before = sha(db)

    for args in (["add", "another"], ["list"], ["search", "deploy"], ["export", "-"]):
        one_clear_line(cli(text_env, *args), "damaged")
    text = one_clear_line(cli(text_env, "doctor"), "damaged", doctor=True)
    assert sha(db) == before  # nothing was "repaired" away or recreated
    # The recovery is explained here, not deferred to... `devmem doctor` itself.
    assert "run `devmem doctor`" not in text.lower(), text
    assert "backup" in text.lower() and "export" in text.lower(), text
    figures["disk: damaged file"] = "clear 'damaged' error on every command, file untouched"


def _damage_pages(db: Path) -> None:
    data = bytearray(db.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    pages = len(data) // size
    for page in range(pages // 2, pages // 2 + 3):
        data[page * size + 8 : page * size + 200] = b"\xde\xad\xbe\xef" * 48
    db.write_bytes(bytes(data))


def test_damaged_pages_are_found_by_doctor_check_and_a_backup_restores_everything(
    tmp_path, text_env
):
    db = make_store(text_env, n=0)
    with opened(db) as svc:
        svc.remember_many(
            [MemoryInput(content=f"memory {i} " + f"word{i} " * 300) for i in range(40)]
        )
    backup = tmp_path / "backup.db"
    assert cli(text_env, "backup", str(backup)).returncode == 0
    size = db.stat().st_size
    _damage_pages(db)

    check = cli(text_env, "doctor", "--check")
    assert check.returncode == 1 and "Traceback" not in check.stdout + check.stderr
    assert "integrity" in check.stdout.lower() and "backup" in check.stdout.lower()
    search = cli(text_env, "search", "word7", "--mode", "text")
    if search.returncode != 0:
        one_clear_line(search)  # a damaged page may stop a search, but with words, not a traceback
    assert db.stat().st_size >= size

    # The way back that doctor describes: export the backup, import into a fresh store.
    dump = tmp_path / "backup.jsonl"
    assert cli({**text_env, "DEVMEM_DB": str(backup)}, "export", str(dump)).returncode == 0
    fresh = {**text_env, "DEVMEM_DB": str(tmp_path / "restored.db")}
    assert cli(fresh, "import", str(dump)).returncode == 0
    with opened(tmp_path / "restored.db") as svc:
        assert svc.store.count() == 40 and store_problems(svc) == []


def test_backup_while_another_writer_works_is_consistent(tmp_path):
    """`devmem backup` uses SQLite's online backup API: a consistent copy under load."""
    db = tmp_path / "memories.db"
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        with opened(db) as svc:
            i = 0
            while not stop.is_set():
                svc.remember(MemoryInput(content=f"busy writer note {i}"))
                written.append(i)
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            stop.wait(0.01)
        with opened(db) as svc:
            at_start = len(written)
            maintenance.backup(svc, tmp_path / "backup.db")
    finally:
        stop.set()
        thread.join()
    with opened(tmp_path / "backup.db") as copy:
        assert store_problems(copy) == []
        assert copy.store.count() >= at_start
    with pytest.raises(StoreError, match="already exists"):
        with opened(db) as svc:
            maintenance.backup(svc, tmp_path / "backup.db")
