"""Knowledge-graph entity and relation extraction without an LLM.

Pure functions over a memory's text and metadata. Technologies come from a curated
vocabulary (``core/data/technologies.json``) matched on token boundaries; everything else
(people, organisations, repositories, files, symbols, issues, hosts, meetings) comes from
patterns and connector metadata. Another layer stores the results; nothing here touches
the database.

Precision rules worth knowing:

* Ambiguous vocabulary forms ("go", "rust", "spring", "react", "swift"…) are *weak*: they
  count only with a technical cue word nearby ("Go module", "react component"), a version
  ("Node 20"), or when written in their proper casing mid-sentence in a memory that is
  otherwise technical ("we use Go for the workers" next to a file path or "Postgres").
* URLs, e-mail addresses and file paths are masked before vocabulary matching, so
  ``github.com`` in a link is a host, not the technology GitHub.
* ``#123`` becomes an issue only when it can be qualified (``project``/``repo`` metadata or
  a repository named in the same memory): ``owner/repo#123``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core import extract_patterns as P
from core import extract_people

ENTITY_TYPES = (
    "technology",
    "person",
    "project",
    "repository",
    "file",
    "symbol",
    "issue",
    "host",
    "organisation",
    "meeting",
)
RELATION_TYPES = (
    "co_occurs",
    "sent",
    "received",
    "attended",
    "authored",
    "member_of",
    "fixes",
    "mentions",
    "touches",
)
MAX_PAIRS = 50
COMMIT_KINDS = frozenset(
    {"commit", "bugfix", "fix", "pr", "pull_request", "merge_request", "patch"}
)
ISSUE_KINDS = frozenset({"issue", "bug", "bug_report", "ticket"})
MEETING_KINDS = frozenset({"meeting", "calendar", "event"})
TECHY = frozenset({"technology", "file", "symbol", "issue", "repository", "host"})
PEOPLE_ROLES = {
    "author": "author",
    "committer": "author",
    "from": "from",
    "sender": "from",
    "to": "to",
    "cc": "to",
    "bcc": "to",
    "recipients": "to",
    "attendees": "attendee",
    "organizer": "attendee",
    "organiser": "attendee",
    "participants": "attendee",
    "assignees": "other",
    "assignee": "other",
    "reviewers": "other",
    "reporter": "other",
}
FILE_KEYS = ("files", "paths", "changed_files")


@dataclass(frozen=True, slots=True)
class ExtractedEntity:
    type: str
    name: str
    display: str
    aliases: tuple[str, ...]
    confidence: float
    source: str


@dataclass(frozen=True, slots=True)
class ExtractedRelation:
    src: tuple[str, str]
    dst: tuple[str, str]
    type: str
    weight: float


Key = tuple[str, str]


@dataclass
class _Item:
    display: str
    confidence: float
    source: str
    aliases: list[str] = field(default_factory=list)


@dataclass
class _Ctx:
    """Everything collected for one memory (or one query)."""

    query: bool = False
    repo: str | None = None
    items: dict[Key, _Item] = field(default_factory=dict)
    org_of: dict[Key, Key] = field(default_factory=dict)
    roles: dict[str, list[Key]] = field(default_factory=dict)
    handles: dict[str, Key] = field(default_factory=dict)
    person_words: set[str] = field(default_factory=set)
    protected: list[tuple[int, int]] = field(default_factory=list)

    def add(
        self, etype: str, name: str, display: str, conf: float, source: str, *aliases: str
    ) -> Key:
        key = (etype, name)
        item = self.items.get(key)
        if item is None:
            item = self.items[key] = _Item(display or name, conf, source)
        elif conf > item.confidence:
            item.confidence = conf
        for alias in aliases:
            if alias and alias not in item.aliases:
                item.aliases.append(alias)
        return key

    def techy(self) -> bool:
        return any(k[0] in TECHY for k in self.items)


# --------------------------------------------------------------------------- public API


def extract(
    text: str,
    *,
    title: str = "",
    kind: str = "note",
    anchor_path: str | None = None,
    anchor_symbol: str | None = None,
    project: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> tuple[list[ExtractedEntity], list[ExtractedRelation]]:
    """Entities and relations of one memory."""
    meta: Mapping[str, Any] = metadata or {}
    ctx = _Ctx(repo=_repo_context(project, meta))
    _metadata_people(meta, ctx)
    _metadata_code(meta, anchor_path, anchor_symbol, ctx)
    if project and project.strip():
        ctx.add("project", project.strip().lower(), project.strip(), 1.0, "project")
    meeting = _meeting(title, kind, meta, ctx)
    _scan(f"{title}\n{text}" if title else text, ctx)
    entities = _entities(ctx)
    return entities, _relations(ctx, entities, kind, meeting, f"{title}\n{text}")


def canonical(name: str) -> tuple[str, str] | None:
    """Vocabulary lookup of one surface form: ``"K8s"`` -> ``("technology", "kubernetes")``."""
    v, lowered = P.vocab(), name.strip().translate(P.ASCII_LOWER)
    hit = v.lookup(P.token_key(name), weak=True) or (lowered if lowered in v.display else None)
    return ("technology", hit) if hit else None


def query_entities(query: str) -> list[ExtractedEntity]:
    """Entities mentioned in a search query (lenient with short queries like "go generics")."""
    ctx = _Ctx(query=True)
    _scan(query, ctx)
    return _entities(ctx)


# --------------------------------------------------------------------------- metadata


def _repo_context(project: str | None, meta: Mapping[str, Any]) -> str | None:
    for cand in (project, meta.get("repo"), meta.get("repository")):
        if isinstance(cand, str) and re.fullmatch(r"[\w.-]+/[\w.-]+", cand.strip()):
            return cand.strip().lower()
    return project.strip().lower() if project and project.strip() else None


def _metadata_people(meta: Mapping[str, Any], ctx: _Ctx) -> None:
    author_email = meta.get("author_email")
    for mkey, role in PEOPLE_ROLES.items():
        value = meta.get(mkey)
        for name, email, handle in P.people(value) if value else ():
            if mkey == "author" and not email and isinstance(author_email, str):
                email = author_email
            key = _add_person(ctx, name, email, handle, f"metadata:{mkey}")
            if key:
                ctx.roles.setdefault(role, []).append(key)
    if isinstance(author_email, str) and "author" not in meta:
        key = _add_person(ctx, None, author_email, None, "metadata:author_email")
        if key:
            ctx.roles.setdefault("author", []).append(key)


def _add_person(
    ctx: _Ctx, name: str | None, email: str | None, handle: str | None, source: str
) -> Key | None:
    if (name and "[bot]" in name) or (
        email and ("[bot]" in email or "noreply" in email.split("@")[-1])
    ):
        return None
    if email and "@" in email:
        return _add_email_person(ctx, name, email.lower().strip("<>."), handle, source)
    if handle:
        key = ctx.add(
            "person", "@" + handle.lower(), name or "@" + handle, 0.9, source, "@" + handle
        )
        ctx.handles[handle.lower()] = key
        return key
    if name and re.search(r"[A-Za-z]", name) and "/" not in name:
        ctx.person_words.update(name.split())
        return ctx.add("person", " ".join(name.lower().split()), name, 0.8, source, name)
    return None


def _add_email_person(
    ctx: _Ctx, name: str | None, email: str, handle: str | None, source: str
) -> Key | None:
    local, _, domain = email.partition("@")
    if local in P.NOREPLY or local.startswith(("noreply", "no-reply")):
        if domain in P.NOTIFY_DOMAINS and name and len(name.split()) >= 2:
            return _add_person(ctx, name, None, None, source)
        return None
    org = _add_org(ctx, domain)
    if local in P.ROLE_MAILBOXES or local.split("-")[0] in P.ROLE_MAILBOXES:
        return None
    conf = 1.0 if source.startswith("metadata") else 0.95
    key = ctx.add(
        "person",
        email,
        name or email,
        conf,
        source,
        name or "",
        email,
        "@" + handle if handle else "",
    )
    if name:
        ctx.person_words.update(name.split())
    if handle:
        ctx.handles[handle.lower()] = key
    if org:
        ctx.org_of[key] = org
    return key


def _add_org(ctx: _Ctx, domain: str) -> Key | None:
    if domain in P.PUBLIC_MAIL or "." not in domain:
        return None
    reg = P.registrable_domain(domain)
    return ctx.add("organisation", reg, reg.split(".")[0].title(), 0.8, "email-domain", domain)


def _metadata_code(
    meta: Mapping[str, Any], anchor_path: str | None, anchor_symbol: str | None, ctx: _Ctx
) -> None:
    if anchor_path and anchor_path.strip():
        path = anchor_path.strip().replace("\\", "/").removeprefix("./")
        ctx.add("file", path, path, 1.0, "anchor")
    if anchor_symbol and anchor_symbol.strip():
        ctx.add("symbol", anchor_symbol.strip(), anchor_symbol.strip(), 1.0, "anchor")
    for fkey in FILE_KEYS:
        files = meta.get(fkey)
        for f in files if isinstance(files, (list, tuple)) else ():
            if isinstance(f, str) and f.strip():
                ctx.add("file", f.strip().removeprefix("./"), f.strip(), 1.0, f"metadata:{fkey}")
    for rkey in ("repo", "repository"):
        repo = meta.get(rkey)
        if isinstance(repo, str) and re.fullmatch(r"[\w.-]+/[\w.-]+", repo.strip()):
            ctx.add("repository", repo.strip().lower(), repo.strip(), 1.0, f"metadata:{rkey}")
    url = meta.get("url")
    if isinstance(url, str):
        _url(url, ctx, "metadata:url")


def _meeting(title: str, kind: str, meta: Mapping[str, Any], ctx: _Ctx) -> Key | None:
    if kind not in MEETING_KINDS and "attendees" not in meta:
        return None
    subject = meta.get("subject")
    label = subject.strip() if isinstance(subject, str) and subject.strip() else title.strip()
    if not label:
        return None
    return ctx.add(
        "meeting",
        " ".join(label.lower().split()),
        label,
        1.0,
        "metadata:subject" if label != title.strip() else "title",
    )


# --------------------------------------------------------------------------- text scanning


def _scan(text: str, ctx: _Ctx) -> None:
    prose = _fences(text, ctx) if "```" in text else text
    span_cands, sym_cands = P.candidates(prose)
    masked = _spans(prose, span_cands, ctx)
    if not ctx.query:
        masked = _people(masked, ctx)
    if "#" in masked or P.JIRA_HINT_RE.search(masked):
        _issues(masked, ctx)
    if "@" in masked:
        _handles(P.BACKTICK_RE.sub(lambda m: " " * len(m.group()), masked), ctx)
    toks = [
        (m.start(), m.end(), m.group())
        for m in P.TOKEN_RE.finditer(masked.translate(P.ASCII_LOWER))
    ]
    weak = _vocab(masked, toks, ctx)
    _symbols(masked, sym_cands, ctx)
    if weak:
        _resolve_weak(masked, toks, weak, ctx)


def _is_technology(word: str) -> bool:
    return canonical(word) is not None


def _people(text: str, ctx: _Ctx) -> str:
    """People named in prose (``core.extract_people``); their names are blanked so that
    "Ruby" in "Ruby Chen" is not the language. A name the metadata already gave (a commit's
    author) is that person, not another one."""
    spans = []
    for p in extract_people.find(text, _is_technology):
        key = _known_person(ctx, p.display) or _known_person(ctx, p.key)
        if key is None:
            key = ctx.add("person", p.key, p.display, p.confidence, "pattern:name", *p.aliases)
        else:
            for alias in p.aliases:
                if alias not in ctx.items[key].aliases:
                    ctx.items[key].aliases.append(alias)
        for alias in p.aliases:
            if alias.startswith("@"):
                ctx.handles[alias[1:].lower()] = key
        ctx.person_words.update(p.display.split())
        spans.append(p.span)
    return P.blank(text, spans) if spans else text


def _known_person(ctx: _Ctx, name: str) -> Key | None:
    people = [(k, it.display, it.aliases) for k, it in ctx.items.items() if k[0] == "person"]
    return extract_people.known(people, name)


def _fences(text: str, ctx: _Ctx) -> str:
    spans = []
    for m in P.FENCE_RE.finditer(text):
        spans.append(m.span())
        lang = P.vocab().lookup(m.group(1).translate(P.ASCII_LOWER)) if m.group(1) else None
        if lang:
            _add_tech(ctx, lang, m.group(1), 0.9)
        for d in P.DEF_RE.finditer(m.group(2)):
            if P.is_symbol_name(d.group(1)):
                ctx.add("symbol", d.group(1), d.group(1), 0.85, "pattern:definition")
    return P.blank(text, spans)


def _spans(text: str, cands: list[tuple[int, int]], ctx: _Ctx) -> str:
    """URLs, e-mails, repo refs, hosts and paths; returns the text with them blanked."""
    spans = []
    for m in (m for s, e in cands for m in P.SPAN_RE.finditer(text, s, e)):
        group, value = str(m.lastgroup), m.group()
        if group == "url":
            value = value.rstrip(".,;:!?)'\"")
            _url(value, ctx, "pattern:url")
        elif group == "email":
            _add_person(ctx, None, value, None, "pattern:email")
        elif group == "ref":
            _ref(value, ctx)
        elif group == "host":
            ctx.add("host", value.lower(), value.lower(), 0.8, "pattern:host")
        elif not _path(value, ctx):
            continue
        spans.append((m.start(), m.start() + len(value)))
    return P.blank(text, spans)


def _url(url: str, ctx: _Ctx, source: str) -> None:
    host, repo, number = P.parse_url(url)
    if host:
        ctx.add("host", host, host, 0.9, source)
    if repo:
        ctx.add("repository", repo.lower(), repo, 0.95, source)
        ctx.repo = ctx.repo or repo.lower()
    if repo and number:
        ctx.add("issue", f"{repo.lower()}#{number}", f"{repo}#{number}", 0.95, source)


def _ref(value: str, ctx: _Ctx) -> None:
    repo, sep, tail = re.split(r"([#@])", value, maxsplit=1)
    ctx.add("repository", repo.lower(), repo, 0.9, "pattern:repo")
    if sep == "#":
        name = f"{repo.lower()}#{tail}"
        ctx.add("issue", name, name, 0.95, "pattern:issue")


def _path(value: str, ctx: _Ctx) -> bool:
    if "*" in value:
        return False
    path = P.classify_path(value)
    if path:
        ctx.add("file", path, path, 0.9 if "." in path.rsplit("/", 1)[-1] else 0.7, "pattern:path")
    elif (
        ctx.query
        and re.fullmatch(r"[A-Za-z][\w.-]*/[A-Za-z][\w.-]*", value)
        and not any(
            P.vocab().lookup(part) or part in P.SLASH_WORDS for part in value.lower().split("/")
        )
    ):
        ctx.add("repository", value.lower(), value, 0.6, "pattern:repo")
        return True
    return path is not None


def _issues(text: str, ctx: _Ctx) -> None:
    for m in P.HASH_ISSUE_RE.finditer(text):
        if ctx.repo:
            name = f"{ctx.repo}#{m.group(1)}"
            ctx.add("issue", name, name, 0.85, "pattern:issue")
        elif ctx.query:
            ctx.add("issue", f"#{m.group(1)}", f"#{m.group(1)}", 0.6, "pattern:issue")
    for m in P.JIRA_RE.finditer(text):
        if m.group(1) not in P.JIRA_STOP and not P.vocab().lookup(
            m.group().translate(P.ASCII_LOWER)
        ):
            ctx.add("issue", m.group(), m.group(), 0.8, "pattern:jira")


def _handles(text: str, ctx: _Ctx) -> None:
    for m in P.HANDLE_RE.finditer(text):
        handle, after = m.group(1), text[m.end() : m.end() + 2]
        if re.match(r"[.(/][\w]", after) or handle.lower() in P.HANDLE_STOP:
            continue
        if handle[0].isupper():
            if P.is_symbol_name(handle):
                ctx.add("symbol", handle, "@" + handle, 0.6, "pattern:annotation")
        elif handle.lower() in ctx.handles:
            ctx.items[ctx.handles[handle.lower()]].aliases.append("@" + handle)
        else:
            ctx.add(
                "person", "@" + handle.lower(), "@" + handle, 0.8, "pattern:handle", "@" + handle
            )


# --------------------------------------------------------------------------- vocabulary


def _add_tech(ctx: _Ctx, name: str, surface: str, conf: float) -> None:
    v = P.vocab()
    ctx.add("technology", name, v.display[name], conf, "vocabulary", surface, *v.aliases[name])


def _vocab(text: str, toks: list[P.Tok], ctx: _Ctx) -> list[P.Weak]:
    hits, weak, protected = P.scan_vocab(text, toks)
    for name, s, e, conf in hits:
        _add_tech(ctx, name, text[s:e], conf)
    ctx.protected += protected
    return weak


def _resolve_weak(text: str, toks: list[P.Tok], weak: list[P.Weak], ctx: _Ctx) -> None:
    """Judge ambiguous forms; a second round once the first made the memory technical."""
    techy = ctx.techy()
    for _ in range(2):
        rest = []
        for w in weak:
            if P.accept_weak(text, toks, w, techy=techy, query=ctx.query, names=ctx.person_words):
                _add_tech(ctx, w.name, text[w.start : w.end], 0.7)
            else:
                rest.append(w)
        if techy or len(rest) == len(weak):
            return
        weak, techy = rest, ctx.techy()


# --------------------------------------------------------------------------- symbols


def _symbols(text: str, cands: list[tuple[int, int]], ctx: _Ctx) -> None:
    def free(m: re.Match[str], group: str) -> bool:
        s, e = m.span(group)
        return not any(ps <= s and e <= pe for ps, pe in ctx.protected)

    if "`" in text:
        for m in P.BACKTICK_RE.finditer(text):
            _backtick(m.group(1).strip(), ctx)
    for s, e in cands:
        for m in P.SYMBOL_RE.finditer(text, s, e):
            kind, name = str(m.lastgroup), m.group(m.lastgroup or 0)
            if kind == "call":
                _symbol(ctx, name, 0.85, "pattern:call")
            elif not free(m, kind):
                continue
            elif kind == "dotted" and P.dotted_is_symbol(name):
                _symbol(ctx, name, 0.75, "pattern:dotted")
            elif kind == "camel" and len(name) >= 5 and P.HUMP_RE.search(name):
                _symbol(ctx, name, 0.7, "pattern:camel")
            elif kind == "snake":
                _symbol(ctx, name, 0.65, "pattern:snake")


def _backtick(code: str, ctx: _Ctx) -> None:
    m = P.IDENT_CALL_RE.fullmatch(code)
    if m:
        _symbol(ctx, m.group(1), 0.85, "pattern:code")
    elif re.fullmatch(r"[A-Za-z_]\w*(?:/[A-Za-z_$]\w*)+", code) and P.HUMP_RE.search(code):
        ctx.add("symbol", code, code, 0.7, "pattern:code")


def _symbol(ctx: _Ctx, name: str, conf: float, source: str) -> None:
    name = re.sub(r"^(?:self|this|cls)\.", "", name)
    dotted = "." in name or "::" in name
    if len(name) > 120 or (not dotted and not P.is_symbol_name(name)):
        return
    if dotted and (P.vocab().lookup(name.translate(P.ASCII_LOWER)) or P.classify_path(name)):
        return
    ctx.add("symbol", name, name, conf, source)


# --------------------------------------------------------------------------- output


def _entities(ctx: _Ctx) -> list[ExtractedEntity]:
    return [
        ExtractedEntity(t, n, it.display, tuple(it.aliases), it.confidence, it.source)
        for (t, n), it in ctx.items.items()
    ]


class _Rels:
    """Relations keyed by (src, dst, type); a repeated edge keeps its largest weight."""

    def __init__(self) -> None:
        self.edges: dict[tuple[Key, Key, str], float] = {}

    def add(self, src: Key, dst: Key, rtype: str, weight: float = 1.0) -> None:
        if src != dst:
            edge = (src, dst, rtype)
            self.edges[edge] = max(weight, self.edges.get(edge, 0.0))

    def out(self) -> list[ExtractedRelation]:
        return [ExtractedRelation(s, d, t, w) for (s, d, t), w in self.edges.items()]


def _relations(
    ctx: _Ctx, entities: list[ExtractedEntity], kind: str, meeting: Key | None, text: str
) -> list[ExtractedRelation]:
    rels = _Rels()
    _co_occurs(entities, rels)
    code = [k for k in ctx.items if k[0] in ("file", "symbol")]
    issues = [k for k in ctx.items if k[0] == "issue"]
    for author in ctx.roles.get("author", []):
        for dst in code + issues:
            rels.add(author, dst, "authored")
    for sender in ctx.roles.get("from", []):
        for rcpt in ctx.roles.get("to", []):
            rels.add(sender, rcpt, "sent")
            rels.add(rcpt, sender, "received")
    if meeting:
        for person in ctx.roles.get("attendee", []):
            rels.add(person, meeting, "attended")
    for person, org in ctx.org_of.items():
        rels.add(person, org, "member_of")
    _code_relations(ctx, kind, text, code, issues, rels)
    return rels.out()


def _co_occurs(entities: list[ExtractedEntity], rels: _Rels) -> None:
    n = len(entities)
    if n < 2:
        return
    ranked = sorted(entities, key=lambda e: -e.confidence)
    pairs, weight = 0, 1.0 / (n - 1)
    keys = [(e.type, e.name) for e in ranked]
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            if pairs >= MAX_PAIRS:
                return
            rels.edges[(a, b, "co_occurs") if a < b else (b, a, "co_occurs")] = weight
            pairs += 1


def _code_relations(
    ctx: _Ctx, kind: str, text: str, code: list[Key], issues: list[Key], rels: _Rels
) -> None:
    fixing = kind in COMMIT_KINDS or (kind not in ISSUE_KINDS and bool(P.FIX_RE.search(text)))
    if fixing and issues:
        actors = (
            ctx.roles.get("author")
            or [k for k in ctx.items if k[0] in ("repository", "project")][:1]
        )
        for actor in actors:
            for issue in issues:
                rels.add(actor, issue, "fixes")
        for issue in issues:
            for dst in code:
                rels.add(issue, dst, "touches")
    if kind in ISSUE_KINDS:
        for issue in issues:
            for dst in code:
                rels.add(issue, dst, "mentions")
