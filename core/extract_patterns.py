"""Data and compiled patterns for :mod:`core.extract` (stdlib only, no project imports).

The technology vocabulary lives in ``core/data/technologies.json`` and is compiled once
into token-keyed dictionaries, so a lookup is one ``dict.get`` per token (plus a few
n-gram probes for multi-word names) instead of one regex per term. Entry fields: ``name``
(canonical, lower-case), ``display``, ``category``, ``aliases`` (surface forms, written in
their natural casing), ``ambiguous`` (has English-word forms), ``weak_aliases`` (those forms:
they need a cue, see :func:`accept_weak`) and ``name_like`` (also a person's first name).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

VOCAB_PATH = Path(__file__).parent / "data" / "technologies.json"

# ASCII-only lowercasing keeps offsets identical between the original and lowered text.
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# Tokens for vocabulary matching: "node.js", "c++", "c#", ".net", "scikit-learn", "pg_dump".
TOKEN_RE = re.compile(r"(?<![a-z0-9_@])\.?[a-z0-9_][a-z0-9_+#]*(?:[.\-][a-z0-9_+#]+)*")
VERSION_RE = re.compile(r"v?\d{1,3}(?:\.\d+){0,3}x?")
GAP_CHARS = frozenset(" \t-/'")
DIGIT_SUFFIX_RE = re.compile(r"^([a-z][a-z+#]*?)v?\d+(?:\.\d+)*$")

Tok = tuple[int, int, str]
SPECIAL_FILES = frozenset(
    "Dockerfile Makefile Jenkinsfile Procfile Gemfile Rakefile Vagrantfile Brewfile Pipfile"
    " CODEOWNERS README LICENSE CHANGELOG CONTRIBUTING".split()
)
# One left-to-right pass finds the spans that must not be read as prose.
SPAN_RE = re.compile(
    r"(?P<url>\b(?:https?://|www\.)[^\s<>()\[\]{}\"'`]+"
    r"|git@(?:github\.com|gitlab\.com|bitbucket\.org):[\w.-]+/[\w.-]+"
    r"|(?<![\w.@/-])(?:github\.com|gitlab\.com|bitbucket\.org)/[\w.-]+/[\w.-]+[\w./#-]*)"
    r"|(?P<email>(?<![\w.+-])[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b)"
    r"|(?P<ref>(?<![\w/.-])[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(?:#\d+|@[0-9a-f]{6,40}\b))"
    r"|(?P<host>(?<![\w.@/-])(?:[A-Za-z0-9-]+\.){2,}(?:com|io|org|net|dev|app|ai|co|cloud|sh|me"
    r"|us|uk|de|fr|eu|info|tech|internal|local|corp)\b(?![.-]?\w))"
    r"|(?P<path>(?<![\w@/.~$-])(?:~|\.{1,2})?/?[\w\[\]*-]*(?:[./][\w\[\]*-]+)+/?(?::\d+)?"
    r"|(?<![\w@/.~$-])[\w-]+/(?=[\s,;)]|$)"
    r"|\b(?:" + "|".join(sorted(SPECIAL_FILES)) + r")\b)"
)
FENCE_RE = re.compile(r"^```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^```", re.M | re.S)
DEF_RE = re.compile(
    r"\b(?:def|class|func|fn|function|interface|struct|trait|enum)\s+([A-Za-z_]\w*)"
)
BACKTICK_RE = re.compile(r"`([^`\n]+)`")
IDENT_CALL_RE = re.compile(r"([A-Za-z_]\w*(?:(?:\.|::)[A-Za-z_]\w*)*)(\(.*\))?")
HANDLE_RE = re.compile(r"(?<![\w@./+-])@([A-Za-z0-9](?:[A-Za-z0-9_]|-(?=[A-Za-z0-9])){0,38})")
HASH_ISSUE_RE = re.compile(r"(?:(?<![\w&#/])#|\bGH-)([1-9]\d{0,6})\b")
JIRA_RE = re.compile(r"(?<![\w-])([A-Z][A-Z0-9]{1,9})-([1-9]\d{0,5})(?![\w-])")
SYMBOL_RE = re.compile(
    r"(?P<call>(?<![\w.$:])[A-Za-z_]\w*(?:(?:\.|::)[A-Za-z_]\w*)*(?=\(\)))"
    r"|(?P<dotted>(?<![\w.$:@#/-])[A-Za-z_]\w*(?:(?:\.|::)[A-Za-z_]\w*)+(?![\w@-]|\.\w|::))"
    r"|(?P<camel>(?<![\w.$:@#/-])[A-Za-z][a-z0-9]*[A-Z][A-Za-z0-9]*(?![\w@/-]|\.\w|::))"
    r"|(?P<snake>(?<![\w.$:@#/-])(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"
    r"(?![\w@-]|\.\w))"
)
JIRA_HINT_RE = re.compile(r"[A-Z]-[1-9]")
HUMP_RE = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2}[a-z]")
FIX_RE = re.compile(r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)\b", re.I)
NAME_ADDR_RE = re.compile(
    r"\"?([^\"<>,;]*?)\"?\s*<([^<>\s]+@[^<>\s]+)>|([\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
)


def words(s: str) -> frozenset[str]:
    return frozenset(s.split())


SOURCE_EXTS = words(
    "py pyi pyx ipynb js jsx ts tsx mjs cjs vue svelte go mod sum rs java kt kts scala sc rb php"
    " c h cc cpp hpp cxx cs fs swift m mm dart ex exs erl hs ml mli clj cljs edn lua jl zig nim"
    " sol sh bash zsh fish ps1 psm1 bat sql graphql gql proto tf tfvars hcl nix json jsonl yaml"
    " yml toml ini cfg conf env xml plist html htm css scss sass less md mdx rst adoc tex txt csv"
    " tsv log lock gradle sbt pem crt key patch diff jinja j2 tpl tmpl hbs ejs svg png jpg jpeg"
    " gif webp pdf zip gz tgz tar parquet db sqlite sqlite3 wasm dockerfile"
)
DOTFILES = words(
    ".env .nvmrc .gitignore .dockerignore .editorconfig .npmrc .babelrc .eslintrc .prettierrc"
    " .bashrc .zshrc .profile .vimrc .gitattributes .gitmodules .python-version .tool-versions"
)
DIR_HINTS = words(
    "src lib libs app apps test tests spec specs docs doc cmd pkg internal scripts script config"
    " configs bin packages services tools charts deploy deployments migrations vendor templates"
    " static assets public web core ops infra modules examples .github build dist include fixtures"
    " utils components hooks pages k8s helm terraform ansible cli server client frontend backend"
)
SYSTEM_DIRS = words("etc usr var opt home tmp srv mnt Users Library root bin sbin lib run proc")
TLDS = words("com io org net dev app ai co cloud sh me us uk de fr eu info tech internal local")
PUBLIC_MAIL = words(
    "gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk live.com msn.com yahoo.com"
    " yahoo.co.uk ymail.com icloud.com me.com mac.com aol.com proton.me protonmail.com pm.me"
    " gmx.com gmx.de gmx.net web.de mail.com yandex.ru yandex.com mail.ru qq.com 163.com 126.com"
    " fastmail.com hey.com zoho.com tutanota.com"
)
NOREPLY = words("noreply no-reply donotreply do-not-reply notifications mailer-daemon git bounces")
ROLE_MAILBOXES = words(
    "admin all alerts billing careers contact dev devops digest eng engineering everyone finance"
    " hello help hr info it jobs legal marketing news newsletter ops postmaster press sales"
    " security support team invoices accounts webmaster office"
)
SLASH_WORDS = words("and or i o ci cd read write input output client server yes no on off w n a")
NOTIFY_DOMAINS = words("github.com gitlab.com bitbucket.org")
SECOND_LEVEL = words("co com org net ac gov edu")
JIRA_STOP = words(
    "ADR RFC PEP ISO UTF SHA MD CVE CWE COVID HTTP TLS SSL AES RSA ES ECMA IEEE ISBN SOC PCI GPT"
    " TCP IPV GH Q1 Q2 Q3 Q4 FY H1 H2 ARM X86 WCAG OWASP"
)
HANDLE_STOP = words(
    "here channel everyone all property staticmethod classmethod dataclass abstractmethod"
    " override param return returns throws see since deprecated types ts-ignore ts-expect-error"
    " media import keyframes font-face apply tailwind mixin include extend type example author"
    " version todo lru_cache cache cached_property wraps contextmanager pytest fixture app router"
)
SYMBOL_STOP = words(
    "any all none None null nil true false True False self this cls string str int float bool"
    " void main master develop trunk HEAD TODO FIXME NOTE"
)
CAMEL_STOP = words(
    "DevOps DevEx DevRel SecOps FinOps MLOps GitOps ChatOps YouTube LinkedIn PowerPoint WhatsApp"
    " PayPal FedEx JetBrains iPhone iPhones iPad iPads iMac iCloud eBay WiFi TikTok DeepMind"
    " StackOverflow LeetCode PhD PhDs SaaS PaaS IaaS FaaS"
)
STRONG_CUES = words(
    "code codebase library libraries lib libs framework frameworks module modules package"
    " packages crate crates component components hooks sdk api apis compiler runtime toolchain"
    " binary binaries dependency dependencies deps app apps application applications service"
    " services server servers backend frontend microservice microservices bindings generics"
    " goroutine goroutines struct structs trait traits macro macros stdlib interop ffi wasm"
    " program programs script scripts syntax idiomatic linter formatter build builds compile"
    " compiled vet fmt mod router routing controller controllers endpoint endpoints handler"
    " handlers middleware orm plugin plugins cli jsx tsx props beans annotation annotations"
    " dataframe dataframes broker brokers worker workers sidecar proxy ingress pipeline pipelines"
)
SOFT_CUES = words(
    "version versions upgrade upgrades upgraded migration port rewrite rewrote team engineers"
    " developers devs community ecosystem experience expertise skills docs documentation tutorial"
    " course book conference meetup talk desktop cloud enterprise console dashboard project"
    " projects repo repository config configuration setup install installed support integration"
    " instance cluster tests suite release releases concurrency typing types stack tool tools task"
    " tasks database db"
)
PREP_CUES = words(
    "in on with using use uses used to from into via for learning learn learned written wrote"
    " adopt adopted adopting migrate migrated migrating switch switched like love prefer than and"
    " or vs versus about over of tried try"
)


@dataclass
class Vocab:
    """The technology vocabulary compiled for token lookups."""

    display: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    strong: dict[str, str] = field(default_factory=dict)
    weak: dict[str, str] = field(default_factory=dict)
    natural: dict[str, frozenset[str]] = field(default_factory=dict)
    name_like: set[str] = field(default_factory=set)
    multi_first: set[str] = field(default_factory=set)
    max_ngram: int = 1

    def lookup(self, key: str, *, weak: bool = False) -> str | None:
        """Canonical name for a token key (plural / version-suffix tolerant for strong forms)."""
        hit = self.strong.get(key) or (self.weak.get(key) if weak else None)
        if hit or len(key) < 4:
            return hit
        if key.endswith("s") and key[:-1] in self.strong:
            return self.strong[key[:-1]]
        m = DIGIT_SUFFIX_RE.match(key)
        if m and len(m.group(1)) >= 3:
            return self.strong.get(m.group(1))
        return None


def token_key(text: str) -> str:
    return " ".join(TOKEN_RE.findall(text.translate(ASCII_LOWER)))


def _add_entry(v: Vocab, e: Mapping[str, Any]) -> None:
    name, display = str(e["name"]), str(e["display"])
    aliases = [str(a) for a in e.get("aliases", [])]
    weak = {token_key(w): str(w) for w in e.get("weak_aliases", [])}
    v.display[name] = display
    v.aliases[name] = tuple(dict.fromkeys([display, *aliases]))
    if e.get("name_like"):
        v.name_like.add(name)
    forms = ([display] if len(display) > 1 else []) + aliases
    for form in forms:
        key = token_key(form)
        if not key:
            continue
        if key in weak:
            v.weak[key] = name
            v.natural[key] = frozenset(
                {form, display} if display.translate(ASCII_LOWER) == key else {form}
            )
        else:
            v.strong[key] = name
        parts = key.split(" ")
        if len(parts) > 1:
            v.multi_first.add(parts[0])
            v.max_ngram = max(v.max_ngram, len(parts))


@lru_cache(maxsize=1)
def vocab() -> Vocab:
    """Load and compile ``technologies.json`` once per process."""
    v = Vocab()
    for entry in json.loads(VOCAB_PATH.read_text(encoding="utf-8")):
        _add_entry(v, entry)
    return v


def registrable_domain(host: str) -> str:
    """``eng.acme.co.uk`` -> ``acme.co.uk``; ``mail.acme.io`` -> ``acme.io``."""
    labels = host.lower().strip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def is_sentence_start(text: str, start: int) -> bool:
    """True when ``start`` opens a line, a sentence or a bullet item."""
    i = start - 1
    while i >= 0 and text[i] in " \t\"'(":
        i -= 1
    if i < 0 or text[i] in "\n.!?":
        return True
    if text[i] in "-*•>#":
        j = i - 1
        while j >= 0 and text[j] in " \t":
            j -= 1
        return j < 0 or text[j] == "\n"
    return False


def classify_path(tok: str) -> str | None:
    """Normalised file path for a path-like token, or None when it is not a file."""
    tok = re.sub(r"(?::\d+)+$|#L\d+.*$", "", tok).rstrip(".,;:")
    if tok.startswith("./"):
        tok = tok[2:]
    if not tok or tok.translate(ASCII_LOWER) in vocab().strong:
        return None
    if "/" not in tok:
        return tok if _is_filename(tok) else None
    segs = [s for s in tok.split("/") if s]
    if not segs or all(re.fullmatch(r"[\d.]+", s) for s in segs):
        return None
    if (
        _is_filename(segs[-1])
        and not re.fullmatch(r"[\d.]+", segs[-1])
        or tok.startswith(("~/", "../"))
    ):
        return tok
    if tok.startswith("/"):
        return tok if len(segs) >= 2 and segs[0] in SYSTEM_DIRS else None
    if segs[0] in DIR_HINTS or (tok.endswith("/") and len(segs) == 1):
        return tok
    return None


def _is_filename(name: str) -> bool:
    if name in DOTFILES or name in SPECIAL_FILES:
        return True
    stem, dot, ext = name.rpartition(".")
    if not dot or ext.translate(ASCII_LOWER) not in SOURCE_EXTS:
        return False
    stem = stem.lstrip(".")
    return bool(stem) and not stem.isdigit() and (len(ext) > 1 or len(stem) > 1)


def is_symbol_name(name: str) -> bool:
    """Reject vocabulary words, keywords, brand CamelCase and conference names."""
    if len(name) < 3 or name in SYMBOL_STOP or name in CAMEL_STOP:
        return False
    if name.endswith(("Con", "Conf")) and "_" not in name:
        return False
    if re.fullmatch(r"Ma?c[A-Z][a-z]+s?", name):
        return False
    return vocab().lookup(name.translate(ASCII_LOWER)) is None


def dotted_is_symbol(name: str) -> bool:
    """Heuristic: is ``a.b`` / ``a::b`` a code reference rather than prose or a domain?"""
    if "::" in name:
        return True
    parts = name.split(".")
    if parts[-1].translate(ASCII_LOWER) in TLDS or vocab().lookup(name.translate(ASCII_LOWER)):
        return False
    head = parts[0]
    if any("_" in p for p in parts):
        return True
    if head[0].isupper():
        return bool(HUMP_RE.search(head)) or not parts[1][0].isupper()
    return any(p[0].isupper() for p in parts[1:])


# --------------------------------------------------------------------------- token helpers

WS_TOKEN_RE = re.compile(r"\S+")


def candidates(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Whitespace tokens worth the span regex (paths, URLs, e-mails) and the symbol regexes.

    Most words of prose are plain lowercase words; skipping them keeps extraction fast.
    """
    spans, syms = [], []
    for m in WS_TOKEN_RE.finditer(text):
        tok = m.group()
        if tok.isalpha() and (tok.islower() or tok[1:].islower()) and tok not in SPECIAL_FILES:
            continue
        core = tok.rstrip(".,;:!?)'\"`")
        if "/" in core or "@" in core or "." in core or core.strip("([<'\"`") in SPECIAL_FILES:
            spans.append(m.span())
        if "_" in tok or "(" in tok or "." in core or ":" in core or tok[1:] != tok[1:].lower():
            syms.append(m.span())
    return spans, syms


def near(toks: list[Tok], i: int, width: int, cues: frozenset[str]) -> bool:
    lo, hi = max(0, i - width), min(len(toks), i + width + 1)
    return any(toks[j][2] in cues for j in range(lo, hi) if j != i)


def next_tok(toks: list[Tok], i: int) -> str:
    return toks[i + 1][2] if i + 1 < len(toks) else ""


def version_after(toks: list[Tok], i: int) -> bool:
    """ "Go 1.22", "Node 20" (a year such as "Spring 2025" does not count)."""
    nxt = next_tok(toks, i)
    if not nxt or not VERSION_RE.fullmatch(nxt) or toks[i + 1][0] - toks[i][1] > 1:
        return False
    return not re.fullmatch(r"(?:19|20)\d\d", nxt)


def capitalised_next(text: str, toks: list[Tok], i: int) -> bool:
    """ "Julia Evans": a capitalised word right after suggests a person's name."""
    if i + 1 >= len(toks) or text[toks[i][1] : toks[i + 1][0]] != " ":
        return False
    return re.fullmatch(r"[A-Z][a-z]+", text[toks[i + 1][0] : toks[i + 1][1]]) is not None


def multi_match(text: str, toks: list[Tok], i: int) -> tuple[str, int] | None:
    """Longest multi-word vocabulary name starting at token ``i`` ("Spring Boot", "Pub/Sub")."""
    v = vocab()
    for k in range(min(v.max_ngram, len(toks) - i), 1, -1):
        gaps = (text[toks[j][1] : toks[j + 1][0]] for j in range(i, i + k - 1))
        if not all(len(g) <= 3 and set(g) <= GAP_CHARS for g in gaps):
            continue
        name = v.strong.get(" ".join(t[2] for t in toks[i : i + k]))
        if name:
            return name, k
    return None


# --------------------------------------------------------------------------- people values

Person = tuple[str | None, str | None, str | None]


def people(value: Any) -> Iterator[Person]:
    """(name, email, handle) triples from "Name <email>", {name, email}, or lists of either."""
    if isinstance(value, str):
        yield from _people_str(value)
    elif isinstance(value, Mapping):
        nested = value.get("emailAddress")
        if isinstance(nested, Mapping):
            yield from people(nested)
            return
        name = value.get("name") or value.get("displayName") or value.get("display_name")
        email = value.get("email") or value.get("address") or value.get("mail")
        handle = value.get("login") or value.get("username") or value.get("handle")
        yield (_str(name), _str(email), _str(handle))
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from people(v)


def _str(v: Any) -> str | None:
    return v.strip() or None if isinstance(v, str) else None


def _people_str(s: str) -> Iterator[Person]:
    found = False
    for m in NAME_ADDR_RE.finditer(s):
        found = True
        yield ((m.group(1) or "").strip() or None, m.group(2) or m.group(3), None)
    if not found:
        for part in re.split(r"[,;]", s):
            part = part.strip()
            if part.startswith("@"):
                yield (None, None, part[1:])
            elif part:
                yield (part, None, None)


# --------------------------------------------------------------------------- vocabulary matching


class Weak(NamedTuple):
    """An ambiguous vocabulary form awaiting judgement ("Go", "rust", "Spring")."""

    name: str
    start: int
    end: int
    pos: int
    case_ok: bool


Hit = tuple[str, int, int, float]


def scan_vocab(text: str, toks: list[Tok]) -> tuple[list[Hit], list[Weak], list[tuple[int, int]]]:
    """Strong hits, weak candidates and the spans both cover (kept away from symbol patterns)."""
    v, hits, weak, protected, i = vocab(), [], [], [], 0
    while i < len(toks):
        s, e, tok = toks[i]
        multi = multi_match(text, toks, i) if tok in v.multi_first else None
        if multi:
            end = toks[i + multi[1] - 1][1]
            hits.append((multi[0], s, end, 0.9))
            protected.append((s, end))
            i += multi[1]
            continue
        name = v.strong.get(tok)
        if name is None and tok not in v.weak and (tok[-1] == "s" or tok[-1].isdigit()):
            name = v.lookup(tok)
        if name:
            hits.append((name, s, e, 0.9))
        elif tok in v.weak:
            weak.append(Weak(v.weak[tok], s, e, i, text[s:e] in v.natural[tok]))
        elif "-" in tok:
            hits += _hyphenated(s, tok)
        if name or tok in v.weak:
            protected.append((s, e))
        i += 1
    return hits, weak, protected


def _hyphenated(start: int, tok: str) -> list[Hit]:
    """ "kafka-based" -> kafka; never a weak part ("go-live", "rust-colored")."""
    v, parts = vocab(), tok.split("-")
    joined = v.strong.get(" ".join(parts))
    if joined:
        return [(joined, start, start + len(tok), 0.85)]
    hits, pos = [], start
    for part in parts:
        name = v.lookup(part) if len(part) >= 2 else None
        if name:
            hits.append((name, pos, pos + len(part), 0.75))
        pos += len(part) + 1
    return hits


def accept_weak(
    text: str, toks: list[Tok], w: Weak, *, techy: bool, query: bool, names: set[str]
) -> bool:
    """Keep an ambiguous form only with a cue, a version, or proper casing in technical prose."""
    surface = text[w.start : w.end]
    if surface in names:
        return False
    if near(toks, w.pos, 2, STRONG_CUES) or version_after(toks, w.pos):
        return True
    if query and len(toks) <= 3 and next_tok(toks, w.pos) not in PREP_CUES:
        return True
    if not w.case_ok:
        return False
    soft = near(toks, w.pos, 3, SOFT_CUES)
    if w.name in vocab().name_like and not soft and capitalised_next(text, toks, w.pos):
        return False
    possessive = text.startswith(("'s", "\u2019s"), w.end)
    acronym = surface.isupper() and len(surface) > 1
    if not (possessive or acronym) and is_sentence_start(text, w.start):
        return techy and (soft or text.startswith(":", w.end))
    return techy or soft or (w.pos > 0 and toks[w.pos - 1][2] in PREP_CUES)


def parse_url(url: str) -> tuple[str | None, str | None, str | None]:
    """(host, "owner/repo" for code hosts, issue/PR number) of a URL or ``git@`` remote."""
    m = URL_PARTS_RE.match(url)
    if not m:
        return None, None, None
    host = m.group(1).lower().removeprefix("www.")
    parts = [p for p in m.group(2).removesuffix(".git").split("/") if p]
    if host not in NOTIFY_DOMAINS or len(parts) < 2 or parts[0] in {"orgs", "settings", "about"}:
        return host, None, None
    cut = parts.index("-") if "-" in parts else 2
    rest = parts[cut:] if cut == 2 else parts[cut + 1 :]
    number = None
    if (
        len(rest) >= 2
        and rest[0] in {"issues", "pull", "pulls", "merge_requests"}
        and rest[1].isdigit()
    ):
        number = rest[1]
    return host, "/".join(parts[:cut]), number


URL_PARTS_RE = re.compile(
    r"(?:[a-z]+://|git@)?(?:[^@/\s]+@)?([^/:\s?#]+)(?::\d+)?[:/]?([^?#\s]*)", re.I
)


def blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the given spans replaced by spaces (offsets are preserved)."""
    out, last = [], 0
    for s, e in sorted(spans):
        if s >= last:
            out += [text[last:s], " " * (e - s)]
            last = e
    return "".join(out) + text[last:]
