"""The git connector: a repository's commit history as ``commit`` memories.

Each commit becomes one memory (message, author, date, files touched, functions/classes
changed) anchored to its main file and, when one function dominates the change, to that
function: this is what answers "why is this code like this?" on hover in the editor.

Identity and cursor
    external id ``<project>:<sha>``; cursor scope ``<project>`` holding the branch tips
    synced last (``HEAD`` and every local branch). A sync imports the commits reachable
    from today's tips and not from the stored ones, oldest first, 200 per transaction, and
    stores after each batch the tips it has reached, so a killed sync resumes where it was.
Rewritten history (rebase, force-push, deleted branch)
    commits that were imported but are no longer reachable from ``HEAD`` or any local
    branch are deleted; their replacements are imported as new commits.
``--since REV``
    leaves out REV and its ancestors (or, for a date ``YYYY-MM-DD…``, older commits). It is
    remembered for the next syncs; ``--since all`` lifts it.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from connectors.base import SyncContext, SyncReport
from connectors.common import BATCH_SIZE, apply_checked, clip, dump_cursor, known_ids, load_cursor
from connectors.git_log import FORMAT, Commit, FileChange, parse_log
from core import TEXT_ONLY_HEADING, CodeAnchor, ConnectorError, EntityRef, MemoryInput

ATTRIBUTES = Path(__file__).with_name("git_attributes")
JS_FUNCNAME = "\n".join(
    [
        r"!^[ \t]*(if|for|while|switch|catch|return|else|do)([ \t(]|$)",
        r"^[ \t]*((export[ \t]+)?(default[ \t]+)?(async[ \t]+)?(function|class|interface|enum)[ \t*]+[A-Za-z_$].*)$",
        r"^[ \t]*((export[ \t]+)?(const|let|var)[ \t]+[A-Za-z_$][A-Za-z0-9_$]*[ \t]*(:[^=]*)?=[ \t]*"
        r"(async[ \t]+)?(function|\(.*\)[^=]*=>|[A-Za-z_$][A-Za-z0-9_$]*[ \t]*=>).*)$",
        r"^[ \t]*(((public|private|protected|static|async|readonly|get|set)[ \t]+)*"
        r"[A-Za-z_$][A-Za-z0-9_$]*[ \t]*\([^;]*\)[ \t]*(:[^;{]*)?\{[ \t]*)$",
    ]
)
MAX_FILES_IN_CONTENT = 30
MAX_FILES_IN_METADATA = 200
MAX_SYMBOLS = 40
MAX_MESSAGE_CHARS = 60_000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][\d:]+.*)?$")
_SHARED_MAILBOXES = frozenset({"noreply", "no-reply", "donotreply", "do-not-reply", "bot", "ci"})
_COAUTHOR = re.compile(r"^co-authored-by:\s*(.+?)\s*<([^>]+)>\s*$", re.I | re.M)


# ---- running git -----------------------------------------------------------------------
def git(root: Path, *args: str, check: bool = True, stdin: str | None = None) -> str:
    """Run ``git -C root args…`` and return its output (decoded with replacement)."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args],
            input=stdin.encode() if stdin else None,
            capture_output=True,
            check=False,
            timeout=600,
        )
    except FileNotFoundError:
        raise ConnectorError(
            "git is not installed or not on PATH.",
            hint="Install git (https://git-scm.com) and run the sync again.",
        ) from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise ConnectorError(
            f"git {args[0]} failed in {root}: {err[-1] if err else proc.returncode}"
        )
    return proc.stdout.decode("utf-8", errors="replace")


def repo_root(path: Path) -> Path:
    """The top folder of the repository at ``path``, or a ConnectorError that says what to do."""
    hint = "run inside a repository or pass its path"
    if not path.exists():
        raise ConnectorError(f"not a git repository: {path} (no such file or folder) — {hint}.")
    folder = path if path.is_dir() else path.parent
    out = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0 or not out.stdout.strip():
        raise ConnectorError(f"not a git repository: {path} — {hint}.")
    return Path(out.stdout.strip()).resolve()


def current_tips(root: Path) -> list[str]:
    """The commits of ``HEAD`` and of every local branch (empty for a repository with none)."""
    heads = git(root, "for-each-ref", "--format=%(objectname)", "refs/heads").split()
    head = git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).strip()
    return sorted({*heads, *([head] if head else [])})


def existing_commits(root: Path, shas: Sequence[str]) -> list[str]:
    """The ``shas`` still present in the object database (a gc may have dropped rewritten ones)."""
    if not shas:
        return []
    out = git(
        root, "cat-file", "--batch-check=%(objectname) %(objecttype)", stdin="\n".join(shas) + "\n"
    )
    return [line.split()[0] for line in out.splitlines() if line.endswith(" commit")]


def remote_web_base(root: Path) -> str | None:
    """``https://github.com/owner/repo`` (or GitLab, Bitbucket) for the repository's remote."""
    remotes = git(root, "remote", check=False).split()
    if not remotes:
        return None
    name = "origin" if "origin" in remotes else remotes[0]
    url = git(root, "config", "--get", f"remote.{name}.url", check=False).strip()
    m = re.match(r"^(?:[a-z+]+://)?(?:[^@/]+@)?([^/:]+)(?::\d+)?[:/](.+?)(?:\.git)?/?$", url)
    if not m or not any(h in m.group(1) for h in ("github", "gitlab", "bitbucket")):
        return None
    return f"https://{m.group(1)}/{m.group(2)}"


def commit_url(base: str | None, sha: str) -> str | None:
    if base is None:
        return None
    if "gitlab" in base:
        return f"{base}/-/commit/{sha}"
    if "bitbucket" in base:
        return f"{base}/commits/{sha}"
    return f"{base}/commit/{sha}"


@dataclass(frozen=True)
class Range:
    """What to read: commits reachable from ``tips``, not from ``exclude``, within ``since``."""

    tips: list[str]
    exclude: list[str]
    since: str  # "" (no limit), "rev:<sha>" or "date:<text>"

    def args(self) -> list[str]:
        out = list(self.tips)
        if self.since.startswith("rev:"):
            out.append("^" + self.since[4:])
        elif self.since.startswith("date:"):
            out.insert(0, "--since=" + self.since[5:])
        return [*out, "--not", *self.exclude] if self.exclude else out


def log_lines(root: Path, rng: Range) -> Iterator[bytes]:
    """The raw lines of ``git log -p -U0`` over ``rng``, oldest first (parents before children)."""
    cmd = [
        "git",
        "-C",
        str(root),
        "-c",
        "core.quotepath=off",
        "-c",
        f"core.attributesFile={ATTRIBUTES}",
        "-c",
        f"diff.javascript.xfuncname={JS_FUNCNAME}",
        "-c",
        "diff.renameLimit=2000",
        "log",
        "--reverse",
        "--topo-order",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--encoding=UTF-8",
        "-p",
        "-U0",
        "--diff-merges=off",
        f"--format={FORMAT}",
        *rng.args(),
    ]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        try:
            yield from proc.stdout
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            code = proc.wait()
        if code not in (0, -9):
            err.seek(0)
            msg = err.read().decode("utf-8", errors="replace").strip().splitlines()
            raise ConnectorError(f"git log failed in {root}: {msg[-1] if msg else code}")


# ---- commit → memory -------------------------------------------------------------------
def _primary(files: Sequence[FileChange]) -> FileChange | None:
    """The file a commit is mostly about: code with the most changed lines, else any."""
    candidates = [f for f in files if not f.binary] or list(files)
    if not candidates:
        return None
    return max(candidates, key=lambda f: (f.is_code, bool(f.symbols), f.lines))


def _dominant(f: FileChange) -> str | None:
    """The symbol holding at least half of the file's attributed changed lines."""
    if not f.symbols:
        return None
    name, weight = f.symbols.most_common(1)[0]
    return name if weight * 2 >= sum(f.symbols.values()) else None


def anchor_of(c: Commit) -> CodeAnchor | None:
    f = _primary(c.files)
    if f is None:
        return None
    symbol = _dominant(f)
    lines = f.ranges.get(symbol) if symbol else f.first_range
    if f.status == "D" or lines is None:
        return CodeAnchor(path=f.path, symbol=symbol, commit=c.sha)
    return CodeAnchor(
        path=f.path, start_line=lines[0], end_line=lines[1], symbol=symbol, commit=c.sha
    )


def symbols_of(c: Commit) -> list[tuple[str, str]]:
    """(symbol, file) pairs, most changed first."""
    weighted = [(n, name, f.path) for f in c.files for name, n in f.symbols.items()]
    weighted.sort(key=lambda t: -t[0])
    seen: dict[str, str] = {}
    for _, name, path in weighted:
        seen.setdefault(name, path)
    return list(seen.items())[:MAX_SYMBOLS]


def is_person(name: str, email: str) -> bool:
    """An author who is a person: not a bot, not a shared no-reply address ("Claude
    <noreply@anthropic.com>" is a tool; GitHub's per-user no-reply addresses are people)."""
    local, _, domain = email.lower().partition("@")
    if not email or "[bot]" in name.lower() or "[bot]" in local:
        return False
    return domain.endswith("users.noreply.github.com") or local not in _SHARED_MAILBOXES


def _file_label(f: FileChange) -> str:
    status = {"A": "added", "D": "deleted", "R": f"renamed from {f.old_path}"}.get(f.status)
    return f"{f.path} ({status})" if status else f.path


def commit_content(c: Commit, symbols: list[tuple[str, str]]) -> str:
    """Message, files, symbols, author, then a bounded sample of the changed lines (the sha,
    dates and line counts live in the metadata and the anchor, not in the text)."""
    message = clip(c.message.strip(), MAX_MESSAGE_CHARS) or f"Commit {c.sha[:10]} (no message)"
    lines = [message, ""]
    if c.files:
        shown = ", ".join(_file_label(f) for f in c.files[:MAX_FILES_IN_CONTENT])
        more = len(c.files) - MAX_FILES_IN_CONTENT
        lines.append(f"Files: {shown}" + (f" and {more} more" if more > 0 else ""))
    elif len(c.parents) > 1:
        lines.append("Merge commit.")
    if symbols:
        lines.append("Changed: " + ", ".join(name for name, _ in symbols))
    lines.append(f"Author: {c.author}")
    changed = c.changed.sample()
    if changed:
        # Last, in the text-only section: the model reads the message, files and symbols,
        # the full-text index reads everything (an error message quoted from the code finds
        # this commit).
        lines += ["", TEXT_ONLY_HEADING, *changed]
    return "\n".join(lines)


def commit_input(c: Commit, project: str, root: Path, web_base: str | None) -> MemoryInput:
    """The memory of one commit."""
    symbols = symbols_of(c)
    subject = c.message.strip().splitlines()[0].strip() if c.message.strip() else ""
    title = clip(subject or f"Commit {c.sha[:10]}", 200)
    entities = [
        EntityRef("person", email.lower(), name, relation)
        for name, email, relation in [
            (c.author, c.email, "authored"),
            *((n, e, "co-authored") for n, e in _COAUTHOR.findall(c.message)),
        ]
        if is_person(name, email)
    ]
    metadata = {
        "sha": c.sha,
        "parents": c.parents,
        "author": c.author,
        "author_email": c.email,
        "date": c.author_date,
        "committed": c.commit_date,
        "repo": str(root),
        "files": [f.path for f in c.files[:MAX_FILES_IN_METADATA]],
        "file_count": len(c.files),
        "symbols": [name for name, _ in symbols],
        "insertions": sum(f.added for f in c.files),
        "deletions": sum(f.removed for f in c.files),
    }
    return MemoryInput(
        content=commit_content(c, symbols),
        title=title,
        kind="commit",
        tags=["merge"] if len(c.parents) > 1 else [],
        project=project,
        anchor=anchor_of(c),
        source="git",
        external_id=f"{project}:{c.sha}",
        source_url=commit_url(web_base, c.sha),
        event_at=c.commit_date or None,
        metadata=metadata,
        entities=entities,
    )


# ---- the connector ---------------------------------------------------------------------
class GitConnector:
    """Sync the commit history of one repository (see the module docstring)."""

    name = "git"

    def __init__(
        self,
        path: Path,
        *,
        since: str | None = None,
        project: str | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.path = path
        self.since = since
        self.project = project
        self.batch_size = batch_size
        self.notes: list[str] = []

    def sync(self, ctx: SyncContext) -> SyncReport:
        root = repo_root(self.path)
        project = self.project or root.name
        cursor = load_cursor(ctx, project)
        since = self._since(root, cursor)
        tips = current_tips(root)
        present = existing_commits(root, cursor.get("tips", []))
        _check_same_repository(cursor, root, present, project)
        # A changed --since invalidates the stored tips as a lower bound: read from scratch
        # and rely on the known ids to leave already imported commits alone.
        old = present if cursor.get("since", "") == since else []
        known = {k.split(":", 1)[1] for k in known_ids(ctx, project + ":")}
        gone = self._gone(root, tips, old, cursor, known)
        run = _Run(ctx, self, root, project, since, old)
        run.deletions = [f"{project}:{sha}" for sha in sorted(gone)]
        if tips != sorted(cursor.get("tips", [])) or gone or cursor.get("since", "") != since:
            run.import_commits(Range(tips, old, since), known - gone, tips)
        return ctx.report

    def _since(self, root: Path, cursor: dict[str, object]) -> str:
        if self.since is None:
            stored = str(cursor.get("since", ""))
            if stored.startswith("rev:") and not existing_commits(root, [stored[4:]]):
                raise ConnectorError(
                    f"the --since commit of the last sync ({stored[4:14]}) no longer exists in {root}.",
                    hint="Pass --since again with a commit that exists, or --since all.",
                )
            return stored
        value = self.since.strip()
        if value in ("", "all"):
            return ""
        if _DATE.match(value):
            return "date:" + value
        sha = git(
            root, "rev-parse", "--verify", "--quiet", value + "^{commit}", check=False
        ).strip()
        if not sha:
            raise ConnectorError(
                f"unknown revision {value!r} in {root}.",
                hint="Pass a commit sha, tag or branch (see `git log`), "
                "a date like 2024-01-31, or `all`.",
            )
        return "rev:" + sha

    def _gone(
        self,
        root: Path,
        tips: list[str],
        old: list[str],
        cursor: dict[str, object],
        known: set[str],
    ) -> set[str]:
        """Imported commits no longer reachable from HEAD or a local branch."""
        if not known:
            return set()
        stored = cursor.get("tips", [])
        if old and isinstance(stored, list) and len(old) == len(stored):
            # Every old tip still exists: what they reach and today's tips do not is exactly
            # the rewritten part of the history (cheap even for huge repositories).
            out = git(root, "rev-list", *old, *(["--not", *tips] if tips else []))
        else:
            # No cursor, or a rewritten tip was garbage-collected: compare with everything.
            out = git(root, "rev-list", *tips) if tips else ""
            return known - set(out.split())
        return set(out.split()) & known


def _check_same_repository(
    cursor: dict[str, object], root: Path, present: list[str], project: str
) -> None:
    """Refuse to sync a different repository under a project name already in use.

    Two unrelated repositories in folders of the same name would share the project, and
    each sync would delete the other's commits as "no longer reachable". A repository that
    was moved (or cloned again) still holds the stored commits and passes."""
    stored_root = cursor.get("root")
    if stored_root and stored_root != str(root) and cursor.get("tips") and not present:
        raise ConnectorError(
            f"project {project!r} is already synced from another repository ({stored_root}), "
            f"which shares no commit with {root}.",
            hint="Pass --project with another name for this one.",
        )


class _Run:
    """One sync run: batching, frontier tracking (for the resumable cursor) and progress."""

    def __init__(
        self,
        ctx: SyncContext,
        conn: GitConnector,
        root: Path,
        project: str,
        since: str,
        old: list[str],
    ) -> None:
        self.ctx, self.conn, self.root, self.project, self.since = ctx, conn, root, project, since
        self.old = old
        self.frontier: set[str] = set()
        self.deletions: list[str] = []

    def cursor(self, tips: Iterable[str]) -> tuple[str, str]:
        return self.project, dump_cursor(
            {"tips": sorted(tips), "since": self.since, "root": str(self.root)}
        )

    def import_commits(self, rng: Range, skip: set[str], final_tips: list[str]) -> None:
        total = (
            int(git(self.root, "rev-list", "--count", *rng.args()).strip() or 0) if rng.tips else 0
        )
        web = remote_web_base(self.root)
        batch: list[MemoryInput] = []
        done = 0
        self.ctx.tick("commits", 0, total, str(self.root))
        for c in parse_log(log_lines(self.root, rng)) if rng.tips else ():
            done += 1
            self.frontier.difference_update(c.parents)
            self.frontier.add(c.sha)
            if c.sha not in skip:
                batch.append(commit_input(c, self.project, self.root, web))
            if len(batch) >= self.conn.batch_size:
                self._flush(batch, self.cursor({*self.old, *self.frontier}))
                batch = []
            if done % 50 == 0:
                self.ctx.tick("commits", done, total, clip(c.message.split("\n", 1)[0], 60))
        self._flush(batch, self.cursor(final_tips))
        self.ctx.tick("commits", done, total, "done")

    def _flush(self, batch: list[MemoryInput], cursor: tuple[str, str]) -> None:
        apply_checked(self.ctx, batch, self.deletions, cursor)
        self.deletions = []
