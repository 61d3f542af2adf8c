"""Secret redaction: find credentials in text before it is stored or logged.

:func:`redact` replaces every secret with ``[REDACTED:<kind>]`` and reports where each one
was (offsets into the *original* text); :func:`contains_secret` only answers yes/no;
:class:`RedactingFilter` scrubs log records so that no secret ever reaches a log file.

How detection works: :data:`_RULES` is an ordered table of regular expressions, one per
secret format. A rule's secret is its named group ``s`` (or the whole match), and the
rule's ``accept`` function can still reject a match (placeholders, examples, low-entropy
values). All accepted spans are merged: overlapping spans become one redaction whose kind
is that of the earliest rule in the table, so specific formats (``github_token``) win over
generic ones (``token``, ``bearer_token``).

Decisions worth knowing:

* Published documentation examples are **not** secrets: anything containing ``EXAMPLE``
  (AWS's ``AKIAIOSFODNN7EXAMPLE`` / ``wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY``) and the
  few keys in :data:`_KNOWN_EXAMPLES` (Stripe's docs key, jwt.io's sample token).
* Public identifiers are not secrets: Stripe ``pk_live_``/``pk_test_``, Twilio account
  SIDs (``AC…``), AWS role/user ids (``AROA…``, ``AIDA…``), SSH public keys, certificates.
* Generic ``password=``/``token:``… assignments are redacted only when the value looks
  random (length, character classes, entropy) and is not a placeholder, a variable
  reference (``${VAR}``, ``os.environ[...]``, ``process.env.X``) or a masked value.
  Passphrases made only of lower-case words (``correct-horse-battery``) are therefore
  kept; that is the price of not redacting ``secret_name: prod-db-credentials``.
* A URL password equal to its user name (``guest:guest``) is a well-known default and
  is kept; only the password part of ``scheme://user:password@host`` is replaced.
* Already-redacted text is left alone: a match overlapping ``[REDACTED:…]`` is dropped,
  which makes :func:`redact` idempotent.

Every pattern is linear-time (bounded or possessive quantifiers, no nested ambiguity),
so 10 MB of text is processed in well under a second or two.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Redaction", "RedactionResult", "RedactingFilter", "contains_secret", "redact"]


@dataclass(frozen=True)
class Redaction:
    """One secret found in a text: its kind and its ``[start, end)`` offsets in the original."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class RedactionResult:
    """The redacted text and the redactions applied to it (sorted, non-overlapping)."""

    text: str
    redactions: tuple[Redaction, ...]


# --------------------------------------------------------------------------- heuristics

# Published documentation keys: well known, never valid, fine to keep in notes.
_KNOWN_EXAMPLES = frozenset(
    {
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",  # Stripe API docs
        "sk_test_BQokikJOvBiI2HlWgH4olfQ2",  # older Stripe docs
        # jwt.io default token (HS256, secret "your-256-bit-secret")
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ikpv"
        "aG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    }
)

# Substrings that mark a value as a placeholder rather than a real credential.
_PLACEHOLDER = re.compile(
    r"example|your|placeholder|changeme|change[-_]me|changeit|dummy|redacted|replace[-_]?me"
    r"|insert[-_]|[-_]here\b|here[-_]|xxxx|\*\*\*|\.\.\.|•|\$\{|\{\{|%\(|%s\b|\{[a-z_]+\}",
    re.IGNORECASE,
)
# Whole values that are words, not secrets.
_PLACEHOLDER_WORDS = frozenset(
    "password passwd pass pwd secret token apikey api_key key none null nil true false "
    "undefined empty string str required optional bearer basic auth test".split()
)
# Code references and names rather than literal values: dotted identifiers
# (self.password, config.api.key), UPPER_SNAKE env-var names, lower-case word chains.
_REFERENCE = re.compile(
    r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+"
    r"|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"
    r"|[a-z]+(?:[-_. ](?:[a-z]+|\d{1,4}))*"
    r"|[a-z]*(?:[A-Z][a-z]+)+"  # CamelCase / camelCase names: DevMemoryApiKey, myToken
)
# Two or more words separated by spaces: a UI string or a sentence ("Passwords do not
# match"), which is what i18n files hold under "password"/"secret" keys.
_PROSE = re.compile(r"[^\W\d_]{2,}[,.!?;:]? +\S*[^\W\d_]{2,}")
# Value openings that mean "not a literal": $VAR/${VAR}/$(cmd), %VAR%/%(name)s, @Value,
# YAML tags and anchors (!vault, &ref, *ref), templates <…>/{…}/[…]/(…), #colours, paths.
_NOT_LITERAL = re.compile(r"[$%@][\w{(]|[!&*][A-Za-z_]+$|[<{\[(#/~]")
_ASCENDING_RUN = 8  # "12345678" / "abcdefgh" in a token means it was typed, not generated
_REPEAT = re.compile(r"(.)\1{5}")  # six identical characters in a row: "xxxxxx", "000000"


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _has_ascending_run(value: str) -> bool:
    run = 1
    for prev, cur in zip(value, value[1:], strict=False):
        run = run + 1 if cur.isalnum() and ord(cur) == ord(prev) + 1 else 1
        if run >= _ASCENDING_RUN:
            return True
    return False


def _char_classes(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def _plausible(secret: str) -> bool:
    """Reject documented examples and obviously hand-typed fake tokens."""
    if secret in _KNOWN_EXAMPLES or "example" in secret.lower():
        return False
    if _REPEAT.search(secret) or _has_ascending_run(secret) or _PLACEHOLDER.search(secret):
        return False
    return len(secret) < 16 or _entropy(secret) >= 3.0


def _looks_random(value: str) -> bool:
    """Does a labelled value look generated (or like a real password) rather than a word?"""
    if value.isdigit() or (value.isalpha() and len(value) < 20):
        return False
    entropy = _entropy(value)
    if entropy < min(3.0, 0.8 * math.log2(len(value))):  # 3 bits/char: even hex reaches it
        return False
    return _char_classes(value) >= 2 or (len(value) >= 24 and entropy >= 3.5)


def _looks_like_value(value: str, min_len: int) -> bool:
    """A literal, random-looking value — not a placeholder, reference, path or URL."""
    if not min_len <= len(value) <= 300 or value.isdigit() or _NOT_LITERAL.match(value):
        return False
    if _REFERENCE.fullmatch(value) or value.lower() in _PLACEHOLDER_WORDS:
        return False
    if value.startswith(("./", "../")) or "://" in value or _PLACEHOLDER.search(value):
        return False
    if " " in value and _PROSE.search(value):
        return False
    return _plausible(value) and _looks_random(value)


# --------------------------------------------------------------------------- accept functions

Accept = Callable[[re.Match[str]], bool]


def _secret(m: re.Match[str]) -> str:
    return m.group("s") if "s" in m.re.groupindex else m.group(0)


def _accept_token(m: re.Match[str]) -> bool:
    return _plausible(_secret(m))


def _accept_mixed(m: re.Match[str]) -> bool:
    """Fixed prefix + free-form body: also require letters and digits (not prose)."""
    s = _secret(m)
    return _plausible(s) and any(c.isdigit() for c in s) and any(c.isalpha() for c in s)


def _accept_base62(m: re.Match[str]) -> bool:
    """For a short, common prefix ("sk-"): a generated body has upper, lower and digits;
    CSS classes and prose (sk-three-bounce-delay-2) do not."""
    s = _secret(m)
    return _plausible(s) and _char_classes(s.replace("-", "").replace("_", "")) >= 3


def _accept_value(m: re.Match[str]) -> bool:
    return _looks_like_value(_unquote(_secret(m)), 8)


_PEM_ARMOR = re.compile(r"-----[A-Z0-9 ]+-----|\\[rn]")


def _accept_pem(m: re.Match[str]) -> bool:
    """A real key has a body; documentation shows ``...`` or ``<your key>`` instead."""
    body = _PEM_ARMOR.sub(" ", _secret(m))
    return sum(c.isalnum() or c in "+/" for c in body) >= 64


def _accept_url_password(m: re.Match[str]) -> bool:
    user, password = m.group("user"), m.group("s")
    if password == user or password.isdigit() and len(password) <= 5:  # default creds / port
        return False
    if password.lower() in _PLACEHOLDER_WORDS or password[0] in "$%{<[*":
        return False
    return _PLACEHOLDER.search(password) is None and _plausible(password)


def _accept_basic_header(m: re.Match[str]) -> bool:
    """``Authorization: Basic <b64>`` — real only if it decodes to ``user:password``."""
    try:
        decoded = base64.b64decode(m.group("s"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, sep, password = decoded.partition(":")
    return bool(sep) and decoded.isprintable() and bool(password) and password != user


def _accept_basic_flag(m: re.Match[str]) -> bool:
    user, password = m.group("user"), m.group("s")
    return password != user and _looks_like_value(password, 6)


def _accept_discord(m: re.Match[str]) -> bool:
    """The first segment of a Discord bot token is the base64 of the bot's numeric id."""
    head = m.group("id")
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return decoded.isdigit() and 17 <= len(decoded) <= 20 and _plausible(m.group(0))


# --- generic `key = value` assignments ---------------------------------------------------

# Words that, next to a keyword, make the key name a *property* of a secret (its name, file,
# length, expiry…) rather than the secret itself: password_file, token_url, max_tokens.
_NOT_THE_SECRET = frozenset(
    "name names file files path dir id ids env var type url uri endpoint host len length size "
    "count limit ttl timeout expiry expires expiration exp field header param policy prompt "
    "hint label mode method format class kind ref arn version provider store manager source "
    "location region rotation enabled required usage used hash hashed prefix suffix pattern "
    "regex placeholder description help min max template mount scope scopes role page next "
    "cursor continuation num total input output completion cache budget validator validators "
    "strength encoder reset sent created updated at".split()
)
_NESTED_KEY = re.compile(r"[A-Za-z_][\w.-]*=[^=]")  # base64 padding is not a key
_KEY_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_KEY_PREFIX = re.compile(r"[A-Za-z0-9_.-]{0,40}$")
# Keyword → kind; checked in order, so "password" wins over "token" in "password_token".
_KEYWORD_KINDS: tuple[tuple[str, str], ...] = (
    ("pass", "password"),
    ("pwd", "password"),
    ("secret", "secret"),
    ("credential", "secret"),
    ("privatekey", "secret"),
    ("signingkey", "secret"),
    ("encryptionkey", "secret"),
    ("masterkey", "secret"),
    ("clientkey", "secret"),
    ("token", "token"),
)


@lru_cache(maxsize=256)
def _keyword_kind(keyword: str) -> str:
    squashed = keyword.lower().replace("_", "").replace("-", "")
    return next((kind for word, kind in _KEYWORD_KINDS if word in squashed), "api_key")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
        return value[1:-1]
    return value


def _continues_word(left: str, right: str) -> bool:
    """True when ``left + right`` reads as one word (tokenizer, bypass), not two parts."""
    if not (left and right and left[-1].isalpha() and right[0].isalpha()):
        return False
    return left[-1].islower() == right[0].islower()


def _key_is_secret(m: re.Match[str]) -> bool:
    keyword, tail = m.group("kw"), m.group("tail")
    prefix = _KEY_PREFIX.search(m.string, max(0, m.start() - 40), m.start())
    head = prefix.group(0) if prefix else ""
    if m.string.endswith("/", 0, m.start() - len(head)):
        return False  # URL user info (https://x-access-token:…@) or a path, not a key
    if tail and tail not in "sS" and _continues_word(keyword, tail):
        return False
    if keyword.lower() in ("pass", "pwd") and _continues_word(head, keyword):
        return False
    words = {w.lower() for w in _KEY_WORDS.findall(head + " " + tail)}
    return not words & _NOT_THE_SECRET


def _accept_assignment(m: re.Match[str]) -> bool:
    raw = m.group("s")
    min_len = 6 if _keyword_kind(m.group("kw")) == "password" else 8
    if len(raw) < min_len or raw.isdigit():  # the cheap test first: most hits end here
        return False
    if raw[0] not in "\"'`" and (
        m.string.startswith(("(", "[", "."), m.end()) or _NESTED_KEY.match(raw)
    ):
        return False  # a call or subscript (get_token(), os.environ["X"]) or "key: other=…"
    if m.groupdict().get("sep") == ">" and not m.string.startswith("</", m.end()):
        return False  # ">" only separates an XML element: <password>value</password>
    return _looks_like_value(_unquote(raw), min_len) and _key_is_secret(m)


# --------------------------------------------------------------------------- the rule table


@dataclass(frozen=True)
class _Rule:
    """One secret format. ``kind`` "" means: derived from the matched keyword (group "kw")."""

    kind: str
    regex: re.Pattern[str]
    accept: Accept = _accept_token
    hints: tuple[str, ...] = ()  # skip the rule unless one of these occurs in the text
    # Case-insensitive rules are scanned as a case-sensitive lower-case pattern over the
    # lower-cased text (about ten times faster than re.IGNORECASE), and each hit is then
    # re-matched on the original text with ``regex`` (the IGNORECASE twin).
    scan: re.Pattern[str] | None = None


def _rule(kind: str, pattern: str, accept: Accept = _accept_token, *hints: str) -> _Rule:
    return _Rule(kind, re.compile(pattern), accept, hints)


def _nocase(kind: str, pattern: str, accept: Accept = _accept_token, *hints: str) -> _Rule:
    """A case-insensitive rule; ``pattern`` and ``hints`` are written in lower case."""
    return _Rule(kind, re.compile(pattern, re.IGNORECASE), accept, hints, re.compile(pattern))


# Idiom: "LIT(?<!\w.{n})" checks the word boundary *after* the n-char literal prefix, so the
# regex still starts with a literal and re can skip through the text at memchr speed; a
# leading (?<!\w) or \b would make it try a match at every position (5-10x slower).

_B64 = r"A-Za-z0-9+/"
_PEM_BEGIN = r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
# The value of a generic assignment: a quoted string or a bare word. The bare form is
# possessive so that "get_token(" cannot backtrack to "get_toke" and sneak past the check.
# A bare value also stops at "&name=" (the next parameter of a query string or form body).
_VALUE = (
    r"""(?P<s>"[^"\n]{1,300}"|'[^'\n]{1,300}'|`[^`\n]{1,300}`"""
    r"""|(?:[^\s"'`,;(){}\[\]<>&]|&(?![\w.-]+=)){1,300}+)"""
)
# Key names that label a secret. Every branch starts with a literal (fast scan).
_KEYWORD = (
    r"(?P<kw>password|passwd|passphrase|pass|pwd|secret|credentials?"
    r"|private[_-]?key|signing[_-]?key|encryption[_-]?key|master[_-]?key|client[_-]?key"
    r"|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|token)"
)
_GH = r"[A-Za-z0-9]"

_RULES: tuple[_Rule, ...] = (
    # --- multi-line keys first, so that anything found inside them merges into them.
    # A service-account JSON holds its PEM key as one string with literal "\n" escapes.
    _rule(
        "gcp_service_account",
        r'"private_key"\s*:\s*"(?P<s>-----BEGIN[^"]{0,32768})"',
        _accept_pem,
        '"private_key"',
    ),
    # A PEM private key up to its END line; if the END line is missing (a truncated paste),
    # the base64 lines that follow. Lines may be separated by real or escaped newlines.
    _rule(
        "private_key",
        rf"{_PEM_BEGIN}(?:[\s\S]{{0,32768}}?{_PEM_END}"
        rf"|(?:(?:\\[rn]|\s)*+[{_B64}=]{{16,}}+)++)",
        _accept_pem,
        "PRIVATE KEY",
    ),
    # --- cloud providers
    # Access key ids of long-term (AKIA) and temporary (ASIA…) keys; ids are base32.
    # AROA/AIDA/… are role/user ids, public, and are not matched.
    _rule(
        "aws_access_key",
        r"A(?:KIA|SIA|BIA|CCA)(?<![A-Za-z0-9].{4})[A-Z2-7]{16}(?![A-Za-z0-9])",
        _accept_token,
        "AKIA", "ASIA", "ABIA", "ACCA",
    ),
    # The 40-char secret key has no prefix, so it is only recognised next to its label.
    _nocase(
        "aws_secret_key",
        r"(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)"
        r"""["']?[ \t]*(?:=|:|=>)[ \t]*["']?(?P<s>[a-z0-9/+]{40})(?![a-z0-9/+=])""",
        _accept_token,
        "secret",
    ),
    _rule("gcp_api_key", r"AIza(?<![\w-].{4})[\w-]{35}(?![\w-])", _accept_token, "AIza"),
    _rule("google_oauth_token", r"ya29\.(?<![\w-].{5})[\w-]{30,}", _accept_mixed, "ya29."),
    _rule("google_oauth_secret", r"GOCSPX-(?<![\w-].{7})[\w-]{28}(?![\w-])", _accept_token, "GOCSPX-"),
    # Azure storage account keys are 64 random bytes (88 base64 chars).
    _rule(
        "azure_storage_key",
        r"(?:AccountKey=|--account-key[ \t]+[\"']?)(?P<s>[A-Za-z0-9+/]{86}==)",
        _accept_token,
        "AccountKey=", "--account-key",
    ),
    _nocase(
        "azure_storage_key",
        r"azure_storage(?:_account)?_key[\"']?[ \t]*[:=][ \t]*[\"']?(?P<s>[a-z0-9+/]{86}==)",
        _accept_token,
        "azure_storage",
    ),
    # Service Bus / Event Hubs / IoT Hub connection strings (32-byte keys, 44 chars).
    _rule(
        "azure_shared_access_key",
        r"SharedAccessKey=(?P<s>[A-Za-z0-9+/]{42,86}={0,2})(?![A-Za-z0-9+/=])",
        _accept_token,
        "SharedAccessKey=",
    ),
    # The signature of a SAS URL grants the access; the rest of the query is public.
    _rule("azure_sas_token", r"[?&]sig=(?P<s>[A-Za-z0-9%+/=]{30,})", _accept_token, "sig="),
    # --- code hosting and package registries
    _rule(
        "github_token",
        rf"gh(?<!\w..)[pousr]_{_GH}{{36,251}}(?!\w)",
        _accept_mixed,
        "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
    ),
    _rule("github_token", r"github_pat_(?<!\w.{11})\w{50,251}", _accept_mixed, "github_pat_"),
    _rule(
        "gitlab_token",
        r"gl(?<![\w-]..)(?:pat|dt|rt|ptt|ft|imt|oas|cbt|soat|ffct|agent)-[\w-]{20,}(?:\.[\w-]+)*",
        _accept_mixed,
        "gl",
    ),
    _rule("npm_token", r"npm_(?<!\w.{4})[A-Za-z0-9]{36}(?![A-Za-z0-9])", _accept_mixed, "npm_"),
    # .npmrc registry credentials; legacy npm tokens are bare UUIDs.
    _rule("npm_token", r"_auth(?:Token)?=(?P<s>[^\s\"'$]{16,})", _accept_token, "_auth"),
    # A PyPI macaroon: base64 of a binary header ("AgE…") naming pypi.org / test.pypi.org.
    _rule("pypi_token", r"pypi-AgE(?<![\w-].{8})[\w-]{50,}", _accept_token, "pypi-AgE"),
    # hf_ + 34 letters (no digits, so _accept_token rather than _accept_mixed)
    _rule("huggingface_token", r"hf_(?<!\w...)[A-Za-z0-9]{34,}(?![A-Za-z0-9])", _accept_token, "hf_"),
    # --- chat
    # Slack tokens always contain their numeric team/user ids, hence the digit look-ahead.
    _rule(
        "slack_token",
        r"x(?:ox[abposre]|app)(?<![A-Za-z0-9].{4})-(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{20,}",
        _accept_token,
        "xox", "xapp-",
    ),
    # A webhook URL is itself the credential: the whole URL is redacted.
    _rule(
        "slack_webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{20,}",
        _accept_token,
        "hooks.slack.com",
    ),
    _rule(
        "discord_webhook",
        r"https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/\d{16,20}/[\w-]{60,}",
        _accept_token,
        "/api/webhooks/",
    ),
    # <base64 of the bot id>.<timestamp>.<hmac>; the id part is verified by decoding it.
    _rule(
        "discord_bot_token",
        r"(?P<id>[MNO](?<![\w-].)[\w-]{23,27})\.[\w-]{6}\.[\w-]{27,40}(?![\w-])",
        _accept_discord,
    ),
    # <bot id>:<35 chars starting with AA>, also inside api.telegram.org/bot<token>/ URLs.
    _rule(
        "telegram_bot_token",
        r"\d(?<!\d.)\d{7,9}:AA[\w-]{33}(?![\w-])",
        _accept_token,
        ":AA",
    ),
    # --- AI providers (Anthropic before OpenAI: both start with "sk-")
    _rule("anthropic_key", r"sk-ant-(?<![\w-].{7})[a-z]+\d*-[\w-]{32,}", _accept_mixed, "sk-ant-"),
    _rule(
        "openai_key",
        r"sk-(?<![\w-]...)(?!ant-)(?:(?:proj|svcacct|admin)-)?[\w-]{20,}",
        _accept_base62,
        "sk-",
    ),
    _rule("groq_key", r"gsk_(?<!\w.{4})[A-Za-z0-9]{52}(?![A-Za-z0-9])", _accept_mixed, "gsk_"),
    # --- payments, messaging, SaaS (pk_live_/pk_test_ are publishable keys: not secrets)
    _rule(
        "stripe_key",
        r"[sr]k_(?<!\w.{3})(?:live|test)_[A-Za-z0-9]{20,}",
        _accept_mixed,
        "k_live_", "k_test_",
    ),
    _rule("stripe_key", r"whsec_(?<!\w.{6})[A-Za-z0-9]{24,}", _accept_mixed, "whsec_"),
    # Twilio API key SIDs; account SIDs (AC…) are public identifiers.
    _rule(
        "twilio_api_key",
        r"SK(?<![A-Za-z0-9]..)[0-9a-fA-F]{32}(?![A-Za-z0-9])",
        _accept_mixed,
        "SK",
    ),
    _nocase(
        "twilio_auth_token",
        r"twilio\w{0,20}?auth_?token[\"']?[ \t]*[:=][ \t]*[\"']?(?P<s>[0-9a-f]{32})(?![0-9a-f])",
        _accept_token,
        "twilio",
    ),
    # curl -u <account sid>:<auth token>
    _rule(
        "twilio_auth_token",
        r"AC(?<![A-Za-z0-9]..)[0-9a-f]{32}:(?P<s>[0-9a-f]{32})(?![0-9a-f])",
        _accept_token,
        "AC",
    ),
    _rule("sendgrid_key", r"SG\.(?<!\w...)[\w-]{22}\.[\w-]{43}(?![\w-])", _accept_token, "SG."),
    _rule(
        "shopify_token",
        r"shp(?<!\w...)(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?!\w)",
        _accept_token,
        "shp",
    ),
    _rule(
        "digitalocean_token",
        r"do(?<!\w..)[opr]_v1_[a-f0-9]{64}(?!\w)",
        _accept_token,
        "_v1_",
    ),
    _rule(
        "databricks_token",
        r"dapi(?<!\w.{4})[a-f0-9]{32}(?:-\d)?(?!\w)",
        _accept_mixed,
        "dapi",
    ),
    _rule("vault_token", r"hv[sb]\.(?<!\w.{4})[\w-]{24,}", _accept_mixed, "hvs.", "hvb."),
    _rule(
        "age_secret_key",
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        _accept_token,
        "AGE-SECRET-KEY-1",
    ),
    # --- structured tokens and HTTP credentials
    # header.payload.signature, header and payload being base64url JSON ("{" → "eyJ").
    _rule("jwt", r"eyJ(?<![\w-]...)[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*", _accept_token, "eyJ"),
    _nocase(
        "bearer_token",
        r"bearer(?<!\w.{6})[ \t]+(?P<s>[a-z0-9._~+/-]{16,}=*)",
        _accept_value,
        "bearer",
    ),
    _nocase(
        "basic_auth",
        r"basic(?<!\w.{5})[ \t]+(?P<s>[a-z0-9+/]{8,}={0,2})",
        _accept_basic_header,
        "basic",
    ),
    # curl -u user:password / --user user:password
    _rule(
        "basic_auth",
        r"-(?<!\S-)(?:u|-user)[ \t]+[\"']?(?P<user>[^\s:\"']{1,100}):(?P<s>[^\s\"']{1,200})",
        _accept_basic_flag,
        "-u", "--user",
    ),
    # scheme://user:password@host — only the password. Anchored on "://" so the scan can
    # use a literal prefix; user may be empty (redis://:password@host).
    _rule(
        "password_in_url",
        r"://(?P<user>[^\s:/@?#\"'<>]{0,100}):(?P<s>[^\s/@?#\"'<>]{1,200})@(?=[\w\[])",
        _accept_url_password,
        "@",
    ),
    # ~/.netrc: machine <host> login <user> password <password>
    _rule(
        "password",
        r"machine(?<!\w.{7})[ \t]+\S+[ \t]+login[ \t]+\S+[ \t]+password[ \t]+(?P<s>\S+)",
        _accept_value,
        "machine",
    ),
    # --- generic labelled assignments: env files, YAML/JSON/TOML, code, XML elements
    _nocase(
        "",
        rf"{_KEYWORD}(?P<tail>[\w.-]{{0,40}})[\"']?[ \t]*(?P<sep>:=|=>|=|:|>)[ \t]*{_VALUE}",
        _accept_assignment,
    ),
    # command-line flags separated by a space: --password s3cr3t, --api-key abc…
    _nocase(
        "",
        rf"--(?<![\w-]..)(?:[a-z0-9]+-)*{_KEYWORD}(?P<tail>(?:-[a-z0-9]+)*)[ \t]+{_VALUE}",
        _accept_assignment,
        "--",
    ),
)

_MARKER = re.compile(r"\[REDACTED:[a-z0-9_]+\]")


# --------------------------------------------------------------------------- engine


def _span(rule: _Rule, m: re.Match[str]) -> tuple[int, int]:
    start, end = m.span("s") if "s" in rule.regex.groupindex else m.span()
    if end - start >= 2 and m.string[start] == m.string[end - 1] and m.string[start] in "\"'`":
        return start + 1, end - 1  # a quoted value: keep the quotes
    return start, end


def _fold(text: str) -> str | None:
    """``text`` lower-cased, if that keeps every offset (always true for ASCII)."""
    folded = text.lower()
    return folded if len(folded) == len(text) else None


def _matches(rule: _Rule, text: str, folded: str | None) -> Iterator[re.Match[str]]:
    if rule.scan is None or folded is None:  # case-sensitive, or offsets would shift
        if not rule.hints or any(h in text for h in rule.hints) or rule.scan is not None:
            yield from rule.regex.finditer(text)
        return
    if rule.hints and not any(h in folded for h in rule.hints):
        return
    for hit in rule.scan.finditer(folded):
        m = rule.regex.match(text, hit.start())
        if m is not None:
            yield m


def _candidates(text: str) -> Iterator[tuple[int, int, int, str]]:
    """Accepted matches as ``(start, end, priority, kind)``, rule by rule."""
    folded = _fold(text)
    for priority, rule in enumerate(_RULES):
        for m in _matches(rule, text, folded):
            if rule.accept(m):
                start, end = _span(rule, m)
                yield start, end, priority, rule.kind or _keyword_kind(m.group("kw"))


def _fresh(text: str) -> Iterator[tuple[int, int, int, str]]:
    """Candidates that do not touch an existing ``[REDACTED:…]`` marker (idempotence)."""
    if "[REDACTED:" not in text:
        yield from _candidates(text)
        return
    markers = [m.span() for m in _MARKER.finditer(text)]
    for cand in _candidates(text):
        i = bisect_left(markers, (cand[1], -1))  # first marker starting at/after the end
        if i == 0 or markers[i - 1][1] <= cand[0]:
            yield cand


def _merge(candidates: list[tuple[int, int, int, str]]) -> list[Redaction]:
    """Merge overlapping spans; the earliest rule in the table names the merged span."""
    merged: list[tuple[int, int, int, str]] = []
    for start, end, priority, kind in sorted(candidates):
        if merged and start < merged[-1][1]:
            m_start, m_end, m_priority, m_kind = merged[-1]
            best = (m_priority, m_kind) if m_priority <= priority else (priority, kind)
            merged[-1] = (m_start, max(end, m_end), *best)
        else:
            merged.append((start, end, priority, kind))
    return [Redaction(kind, start, end) for start, end, _, kind in merged]


def _apply(text: str, redactions: list[Redaction]) -> str:
    parts: list[str] = []
    pos = 0
    for r in redactions:
        parts += (text[pos : r.start], f"[REDACTED:{r.kind}]")
        pos = r.end
    parts.append(text[pos:])
    return "".join(parts)


def redact(text: str) -> RedactionResult:
    """Replace every secret in ``text`` with ``[REDACTED:<kind>]``.

    Offsets in the returned redactions refer to the original ``text``. Redacting an already
    redacted text changes nothing.
    """
    redactions = _merge(list(_fresh(text)))
    if not redactions:
        return RedactionResult(text, ())
    return RedactionResult(_apply(text, redactions), tuple(redactions))


def contains_secret(text: str) -> bool:
    """Whether :func:`redact` would change ``text`` (stops at the first secret found)."""
    return next(_fresh(text), None) is not None


# --------------------------------------------------------------------------- logging


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from records; it never drops a record.

    Attach it to *handlers* (``handler.addFilter(RedactingFilter())``): filters on a logger
    do not see records propagated from its child loggers. When the formatted message holds
    a secret, the record's ``msg`` becomes the redacted message and ``args`` is emptied, so
    no handler can re-format the secret back in. Tracebacks and stack info are scrubbed too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub_message(record)
        _scrub_traceback(record)
        return True


def _scrub_message(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a malformed %-format: scrub the pieces separately
        record.msg = redact(str(record.msg)).text
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a).text if isinstance(a, str) else a for a in record.args)
        return
    result = redact(message)
    if result.redactions:
        record.msg, record.args = result.text, ()


def _scrub_traceback(record: logging.LogRecord) -> None:
    text = record.exc_text
    if record.exc_info and not text:
        text = logging.Formatter().formatException(record.exc_info)
    if text:
        result = redact(text)
        if result.redactions:  # pre-set exc_text is what formatters print
            record.exc_text = result.text
    if record.stack_info:
        record.stack_info = redact(record.stack_info).text
