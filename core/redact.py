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

Kinds: private_key, gcp_service_account, aws_access_key, aws_secret_key, gcp_api_key,
google_oauth_token, google_oauth_secret, azure_storage_key, azure_shared_access_key,
azure_sas_token, github_token, gitlab_token, npm_token, pypi_token, huggingface_token,
slack_token, slack_webhook, discord_webhook, discord_bot_token, telegram_bot_token,
anthropic_key, openai_key, groq_key, stripe_key, twilio_api_key, twilio_auth_token,
sendgrid_key, shopify_token, digitalocean_token, databricks_token, vault_token,
age_secret_key, jwt, bearer_token, basic_auth, password_in_url, and — for labelled values
(``KEY=value``, ``"key": "value"``, ``<key>value</key>``, ``--key value``) — password,
secret, api_key, token.

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
* Only the secret part is replaced: the password of ``scheme://user:password@host``, the
  value of ``password=…``, the part after the colon of a Telegram bot token (the bot id
  is public). Webhook URLs (Slack, Discord) are credentials as a whole and go entirely.
* A URL password equal to its user name (``guest:guest``) is a well-known default and
  is kept.
* Already-redacted text is left alone: a match overlapping ``[REDACTED:…]`` is dropped,
  which makes :func:`redact` idempotent.

Known gaps (by design or not worth the false positives): unlabelled values (a bare 40-char
AWS secret key, a password alone on a line), a label and its value on different lines
(Kubernetes ``name:``/``value:`` pairs), "<key> is <value>" prose unless the value mixes
upper case, lower case and digits, Sentry DSNs (public by design).

Every pattern is linear-time (bounded or possessive quantifiers, no nested ambiguity) and
starts with a literal where possible: 10 MB of developer notes take 0.7-1 s of CPU
(``python bench/redaction.py``); a short log line about 50 µs.
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

# Substrings that mark a value as a placeholder rather than a real credential. Matched
# against the lower-cased value (re.IGNORECASE is three times slower here).
_PLACEHOLDER = re.compile(
    r"example|your|(?<![a-z])my[-_]?(?:pass|secret|token|key|api)|placeholder|changeme"
    r"|change[-_]me|changeit|dummy|redacted|replace[-_]?me"
    r"|insert[-_]|[-_]here\b|here[-_]|xxxx|\*\*\*|\.\.\.|…|•|\$\{|\{\{|%\(|\{[a-z_]+\}"
)
# printf-style slots, case-sensitive ("%S" in a generated password is not one).
_FORMAT_SLOT = re.compile(r"(?<![A-Za-z0-9])%[sd](?![A-Za-z0-9])")


def _is_placeholder(value: str) -> bool:
    return _PLACEHOLDER.search(value.lower()) is not None or _FORMAT_SLOT.search(value) is not None


# Whole values that are words, not secrets.
_PLACEHOLDER_WORDS = frozenset(
    "password passwd pass pwd secret token apikey api_key key none null nil true false "
    "undefined empty string str required optional bearer basic auth test".split()
)
# An identifier as people write them: snake_case, camelCase (Ed25519PrivateKey), UPPER_CASE.
_IDENT = r"(?:[A-Za-z_$][a-z_$]*\d*(?:[A-Z][a-z_$]*\d*)*|[A-Z][A-Z0-9_]*)"
# Code references and names rather than literal values: dotted identifiers
# (self.password, config.api.key), UPPER_SNAKE env-var names, lower-case word chains.
_REFERENCE = re.compile(
    rf"{_IDENT}(?:[?!]?\.{_IDENT})+"  # self.password, process.env.API_KEY, account?.idToken
    r"|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"
    r"|0x[0-9a-fA-F]+"
    r"|[a-z]+(?:[-_. ](?:[a-z]+|\d{1,4}))*"
    r"|[a-z]*(?:[A-Z][a-z]+)+"  # CamelCase / camelCase names: DevMemoryApiKey, myToken
    r"|[A-Z]+"  # one upper-case word: ENABLED, NONE
)
# Values that are not literals: $VAR/${VAR}/$(cmd), %VAR%/%(name)s, @Value, YAML tags and
# anchors (!vault, &ref, *ref), negations (!options.flag), templates <…>/{…}/[…]/(…),
# colours (#1e90ff) and file paths (/run/secrets/db, ~/.netrc, ./key, C:\keys\x.pem).
_NOT_LITERAL = re.compile(
    rf"\$[{{(]|\$[A-Za-z_]\w*$|%[A-Za-z_]\w*%$|%\(|%[sd]$|@[A-Za-z_][\w.]*$"
    rf"|!+{_IDENT}(?:\??\.{_IDENT})*$|[&*][a-z_][a-z0-9_-]*$|[<{{\[(]|==|//|#[0-9a-fA-F]{{3,8}}$"
    r"|(?:~|\.{1,2})?/[\w.@-]+(?:/[\w.@-]*)+$|~/|\.{1,2}/|[A-Za-z]:\\"
)
# Eight ascending characters ("12345678", "abcdefgh") mean a value was typed, not generated.
_ASCENDING = re.compile(
    "|".join(
        re.escape(seq[i : i + 8])
        for seq in ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        for i in range(len(seq) - 7)
    )
)
_DIGIT = re.compile(r"\d")
_REPEAT = re.compile(r"(.)\1{5}")  # six identical characters in a row: "xxxxxx", "000000"


@lru_cache(maxsize=4096)
def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return math.log2(n) - sum(c * math.log2(c) for c in Counter(value).values() if c > 1) / n


def _char_classes(value: str) -> int:
    """How many of lower-case, upper-case, digits and other characters ``value`` uses."""
    return (
        (value.upper() != value)
        + (value.lower() != value)
        + (_DIGIT.search(value) is not None)
        + (not value.isalnum())
    )


def _plausible(secret: str) -> bool:
    """Reject documented examples and obviously hand-typed fake tokens."""
    if secret in _KNOWN_EXAMPLES or _is_placeholder(secret):  # ...EXAMPLE, xxxx, your-
        return False
    if _REPEAT.search(secret) or _ASCENDING.search(secret):
        return False
    return len(secret) < 16 or not _low_entropy(secret)


def _is_mixed(value: str) -> bool:
    """Upper-case, lower-case and digits: what a generator emits, and words do not."""
    return value.upper() != value and value.lower() != value and _DIGIT.search(value) is not None


def _low_entropy(value: str) -> bool:
    """Fewer bits per character than a random string of that length almost surely has:
    "aaaa1111", "abababab". (16 random hex digits average 3.3 bits, rarely under 2.4.)"""
    return _entropy(value) < min(2.5, 0.6 * math.log2(len(value)))


def _looks_random(value: str) -> bool:
    """Does a labelled value look generated (or like a real password) rather than a word?"""
    if value.isdigit() or _low_entropy(value):
        return False
    return _char_classes(value) >= 2 or (len(value) >= 24 and _entropy(value) >= 3.5)


_PROSE_WORD = re.compile(r"[^\W\d_]{2,}")
# Operators and calls: a?.b || "", a ?? b, a === b, get_token().
_CODE = re.compile(r"\|\||&&|\?\.|\?\?|[=!]==|^[\w.]+\([^)]*\)$")


def _is_prose(value: str) -> bool:
    """A UI string or sentence ("Passwords do not match", "string | Buffer", "分析器预期…")
    — what i18n files and docs hold under "password"/"secret" keys. Generated secrets
    have neither spaces between words nor runs of non-ASCII letters."""
    if " " in value and len(_PROSE_WORD.findall(value)) >= 2:
        return True
    return not value.isascii() and sum(c.isalpha() and not c.isascii() for c in value) >= 3


_NAME_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_NAME_SEPARATORS = re.compile(r"[-_.:/]+")
_VOWELS = frozenset("aeiouy")


def _is_name(value: str) -> bool:
    """Made of words, like identifiers and constants: AccessToken_With_AuthScheme,
    msal:acquireTokenStart, X-Xet-Access-Token, token_sha256_to_refresh, PKCS7PrivateKey,
    TOperator. Generated secrets are not: too few vowels, letter runs without vowels."""
    letters = [c for c in value.lower() if c.isalpha()]
    if sum(c in "aeiou" for c in letters) < 0.25 * len(letters):  # English: ~40%; random: 19%
        return False
    words = 0
    for chunk in _NAME_SEPARATORS.split(value):
        parts = _NAME_PART.findall(chunk)
        if "".join(parts) != chunk:
            return False
        for i in range(len(parts)):
            count = _name_part_words(parts, i)
            if count is None:
                return False
            words += count
    return words >= 2


def _name_part_words(parts: list[str], i: int) -> int | None:
    """1 for a word, 0 for a number or a one-letter prefix, None for a random-looking run."""
    part, before, after = parts[i], parts[i - 1 : i], parts[i + 1 : i + 2]
    if part.isdigit():  # sha256, V2, PKCS7Key — but not 20240611123456 or Ab3dE
        glued = bool(before and after) and not (before[0].isupper() and len(before[0]) > 1)
        return None if len(part) > 4 or glued else 0
    if part.isupper():  # an acronym (EOF, PKCS) or a type prefix (TOperator, IUser)
        prefix = i == 0 and len(part) == 1 and bool(after) and after[0].istitle()
        return None if len(part) > 4 else int(len(part) > 1 or (prefix and len(after[0]) > 3))
    if len(part) < 2 or not _VOWELS.intersection(part.lower()):
        return None
    return 1


def _looks_like_value(value: str, min_len: int) -> bool:
    """A literal, random-looking value — not a placeholder, reference, path or URL."""
    if not min_len <= len(value) <= 300 or value.isdigit() or _NOT_LITERAL.match(value):
        return False
    core = value.rstrip(":.=")  # "boolean:", "authorization_uri=" (but "abc..." stays)
    if _REFERENCE.fullmatch(core) or core.lower() in _PLACEHOLDER_WORDS or _is_name(core):
        return False
    if "://" in value or _CODE.search(value) or _is_prose(value):
        return False
    return _plausible(value) and _looks_random(value)  # _plausible: placeholders too


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
    return _plausible(s) and _is_mixed(s)


def _accept_value(m: re.Match[str]) -> bool:
    return _looks_like_value(_unquote(_secret(m)), 8)


_PEM_ARMOR = re.compile(r"-----[A-Z0-9 ]+-----|\\[rn]")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]+")


def _accept_pem(m: re.Match[str]) -> bool:
    """A real key has a body; documentation shows ``...`` or ``<your key>`` instead."""
    body = _PEM_ARMOR.sub(" ", _secret(m))
    return len(_NOT_BASE64.sub("", body)) >= 64


# RFC 2606/6761 names reserved for documentation and tests.
_EXAMPLE_HOST = re.compile(
    r"(?:[\w-]+\.)*(?:example\.(?:com|org|net)|[\w-]+\.(?:test|example|invalid))\b"
)


def _accept_url_password(m: re.Match[str]) -> bool:
    user, password = m.group("user"), m.group("s")
    if password == user or (password.isdigit() and len(password) <= 5):  # default creds, port
        return False
    if _EXAMPLE_HOST.match(m.string, m.end()) or (password.isalpha() and len(password) <= 6):
        return False  # documentation URLs (user:pass@example.com), foo:bar@
    if "%20" in password:
        return False  # an encoded space: "a%20secret" in URL-parsing docs, not a password
    if password.lower() in _PLACEHOLDER_WORDS or password[0] in "$%{<[*":
        return False
    return _plausible(password)


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


def _accept_aws_secret(m: re.Match[str]) -> bool:
    """secret_access_key, or secret_key labelled as AWS's (aws_secret_key)."""
    aws = m.string[max(0, m.start() - 4) : m.start()].lower().endswith(("aws", "aws_"))
    return (aws or m.group("access") is not None) and _plausible(m.group("s"))


_BOT_ID = re.compile(r"(?<!\d)\d{8,10}\Z")


def _accept_telegram(m: re.Match[str]) -> bool:
    """8-10 digits (the bot id) right before the colon."""
    bot_id = _BOT_ID.search(m.string, max(0, m.start() - 11), m.start())
    return bot_id is not None and _plausible(m.group("s"))


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
    "regex placeholder description help min max template mount scope scopes role page "
    "budget validator validators strength encoder reset sent created updated at".split()
)
# The same, for words *before* the keyword: max_tokens, next_page_token, hashed_password.
_NOT_THE_SECRET_BEFORE = frozenset(
    "max min num total count page next prev previous cursor continuation input output prompt "
    "completion cache hashed hash sync no header public".split()
)
_NESTED_KEY = re.compile(r"[A-Za-z_][\w.-]*=[^=]")  # base64 padding is not a key
_KEY_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_KEY_PREFIX = re.compile(r"[A-Za-z0-9_.-]{0,40}$")
# Keyword → kind; checked in order, so "password" wins over "token" in "password_token".
_KEYWORD_KINDS: tuple[tuple[str, str], ...] = (
    ("pass", "password"),
    ("pw", "password"),
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
    squashed = re.sub(r"[-_ ]", "", keyword.lower())
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


def _key_head(m: re.Match[str]) -> str:
    """The part of the key name before the keyword: "DB_" in DB_PASSWORD."""
    prefix = _KEY_PREFIX.search(m.string, max(0, m.start() - 40), m.start())
    return prefix.group(0) if prefix else ""


def _key_is_secret(m: re.Match[str], head: str) -> bool:
    keyword, tail = m.group("kw"), m.group("tail")
    if m.string.endswith("/", 0, m.start() - len(head)):
        return False  # URL user info (https://x-access-token:…@) or a path, not a key
    if tail and tail not in "sS" and _continues_word(keyword, tail):
        return False
    if keyword.lower() in ("pass", "pwd", "pw") and (tail or _continues_word(head, keyword)):
        return False  # bare "pass" names a password only at the end: DB_PASS, not PASS_DEPTH
    if tail.startswith(".") and tail[1:2].isupper():
        return False  # a class attribute (Token.Comment), not a configuration key
    before = {w.lower() for w in _KEY_WORDS.findall(head)}
    after = {w.lower() for w in _KEY_WORDS.findall(tail)}
    return not (before & _NOT_THE_SECRET_BEFORE or after & _NOT_THE_SECRET)


def _accept_assignment(m: re.Match[str]) -> bool:
    raw = m.group("s")
    min_len = 6 if _keyword_kind(m.group("kw")) == "password" else 8
    if len(raw) < min_len or raw.isdigit():  # the cheap test first: most hits end here
        return False
    head = _key_head(m)
    if raw[0] not in "\"'`" and _is_code(m, raw, head):
        return False
    value, sep = _unquote(raw).strip(), m.groupdict().get("sep", "")
    if sep == ">" and not m.string.startswith("</", m.end()):
        return False  # ">" only separates an XML element: <password>value</password>
    if sep is None and not _is_mixed(value):
        return False  # "<key> is <value>" in prose: only clearly generated values
    return _looks_like_value(value, min_len) and _key_is_secret(m, head)


_BUNDLER_SUFFIX = re.compile(r"\$\d+$")


def _is_code(m: re.Match[str], raw: str, head: str) -> bool:
    """A bare value that is code: a call or subscript (get_token(), os.environ["X"]), a
    generic type (OAuthToken<T>), a nested "key: other=…", or the key passed through under
    its own name (token=token, _stoken=_stoken, Key = module.Key)."""
    after = m.string[m.end() : m.end() + 2]
    if after[:1] in ("(", "[") or (after[:1] == "<" and after != "</") or _NESTED_KEY.match(raw):
        return True
    key = head + m.group("kw") + m.group("tail")
    name = _BUNDLER_SUFFIX.sub("", raw)  # JsonWebTokenTypes$1: a bundler's renamed copy
    return name.strip("_$") == key.strip("_$") or name.endswith("." + key)  # re-export


# --------------------------------------------------------------------------- the rule table


@dataclass(frozen=True)
class _Rule:
    """One secret format. ``kind`` "" means: derived from the matched keyword (group "kw")."""

    kind: str
    regex: re.Pattern[str]
    accept: Accept = _accept_token
    hints: tuple[str, ...] = ()  # skip the rule unless one of these occurs in the text
    # Case-insensitive rules are not run with re.IGNORECASE over the text (10x slower: no
    # literal prefix to jump to). Their lower-case ``scan`` patterns find where a match can
    # start in the lower-cased text, and ``regex`` (IGNORECASE) is matched there on the
    # original text.
    scan: tuple[re.Pattern[str], ...] = ()


def _rule(kind: str, pattern: str, accept: Accept = _accept_token, hints: str = "") -> _Rule:
    """A case-sensitive rule; ``hints`` is a space-separated list of literals."""
    return _Rule(kind, re.compile(pattern), accept, tuple(hints.split()))


def _nocase(
    kind: str,
    pattern: str,
    accept: Accept = _accept_token,
    hints: str = "",
    starts: tuple[str, ...] = (),
) -> _Rule:
    """A case-insensitive rule, written in lower case. ``starts``: literal-led patterns that
    find every place a match can begin (default: ``pattern`` itself)."""
    scan = tuple(re.compile(p) for p in starts or (pattern,))
    return _Rule(kind, re.compile(pattern, re.IGNORECASE), accept, tuple(hints.split()), scan)


# Idiom: "LIT(?<!\w.{n})" checks the word boundary *after* the n-char literal prefix, so the
# regex still starts with a literal and re jumps from one occurrence of it to the next; a
# leading (?<!\w) or \b would make it attempt a match at every position (5-10x slower).

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
# Key names that label a secret; each alternative starts with its own literal, which is
# what the generic rule scans for (13 literal searches beat one 13-way alternation).
_KEYWORDS = (
    r"pass(?:word|wd|phrase)?",
    r"pwd?",
    r"secret",
    r"credentials?",
    r"private[_ -]?key",
    r"signing[_ -]?key",
    r"encryption[_ -]?key",
    r"master[_ -]?key",
    r"client[_-]?key",
    r"api[_ -]?key",
    r"access[_ -]?key",
    r"auth[_-]?key",
    r"token",
)
_KEYWORD = f"(?P<kw>{'|'.join(_KEYWORDS)})"

_RULES: tuple[_Rule, ...] = (
    # --- multi-line keys first, so that anything found inside them merges into them.
    # A service-account JSON holds its PEM key as one string with literal "\n" escapes.
    _rule(
        "gcp_service_account",
        r'"private_key"\s*:\s*"(?P<s>-----BEGIN[^"]{0,32768})"',
        _accept_pem,
        '"private_key"',
    ),
    # A PEM private key up to its END line (not past another BEGIN); if the END line is
    # missing (a truncated paste), the base64 lines that follow. Lines may be separated by
    # real or escaped ("\n" in JSON/YAML strings) newlines.
    _rule(
        "private_key",
        rf"{_PEM_BEGIN}(?:(?:(?!-----BEGIN )[\s\S]){{0,32768}}?{_PEM_END}"
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
        "AKIA ASIA ABIA ACCA",
    ),
    # The 40-char secret key has no prefix, so it is only recognised next to its label.
    _nocase(
        "aws_secret_key",
        r"secret_?(?P<access>access_?)?key"
        r"""["']?[ \t]*(?:=|:|=>)[ \t]*["']?(?P<s>[a-z0-9/+]{40})(?![a-z0-9/+=])""",
        _accept_aws_secret,
        "secret",
    ),
    _rule("gcp_api_key", r"AIza(?<![\w-].{4})[\w-]{35}(?![\w-])", _accept_token, "AIza"),
    _rule("google_oauth_token", r"ya29\.(?<![\w-].{5})[\w-]{30,}", _accept_mixed, "ya29."),
    _rule(
        "google_oauth_secret", r"GOCSPX-(?<![\w-].{7})[\w-]{28}(?![\w-])", _accept_token, "GOCSPX-"
    ),
    # Azure storage account keys are 64 random bytes (88 base64 chars).
    _rule(
        "azure_storage_key",
        r"AccountKey=(?P<s>[A-Za-z0-9+/]{86}==)",
        _accept_token,
        "AccountKey=",
    ),
    _rule(
        "azure_storage_key",
        r"--account-key[ \t]+[\"']?(?P<s>[A-Za-z0-9+/]{86}==)",
        _accept_token,
        "--account-key",
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
    _rule(
        "azure_sas_token", r"sig=(?<=[?&]sig=)(?P<s>[A-Za-z0-9%+/=]{30,})", _accept_token, "sig="
    ),
    # --- code hosting and package registries
    _rule(
        "github_token",
        r"gh(?<!\w..)[pousr]_[A-Za-z0-9]{36,251}(?!\w)",
        _accept_mixed,
        "ghp_ gho_ ghu_ ghs_ ghr_",
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
    _rule("npm_token", r":_auth(?:Token)?=(?P<s>[^\s\"'$]{16,})", _accept_token, ":_auth"),
    # A PyPI macaroon: base64 of a binary header ("AgE…") naming pypi.org / test.pypi.org.
    _rule("pypi_token", r"pypi-AgE(?<![\w-].{8})[\w-]{50,}", _accept_token, "pypi-AgE"),
    # hf_ + 34 letters (no digits, so _accept_token rather than _accept_mixed)
    _rule(
        "huggingface_token", r"hf_(?<!\w...)[A-Za-z0-9]{34,}(?![A-Za-z0-9])", _accept_token, "hf_"
    ),
    # --- chat
    # Slack tokens always contain their numeric team/user ids, hence the digit look-ahead.
    _rule(
        "slack_token",
        r"x(?:ox[abposre]|app)(?<![A-Za-z0-9].{4})-(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{20,}",
        _accept_token,
        "xox xapp-",
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
    # Only the part after the colon is secret; the bot id is public.
    _rule(
        "telegram_bot_token",
        r":(?P<s>AA(?<=\d:AA)[\w-]{33})(?![\w-])",
        _accept_telegram,
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
    _rule("stripe_key", r"sk_(?<!\w...)(?:live|test)_[A-Za-z0-9]{20,}", _accept_mixed, "sk_"),
    _rule("stripe_key", r"rk_(?<!\w...)(?:live|test)_[A-Za-z0-9]{20,}", _accept_mixed, "rk_"),
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
    _rule("vault_token", r"hv[sb]\.(?<!\w.{4})[\w-]{24,}", _accept_mixed, "hvs. hvb."),
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
    # "Authorization: Token <key>" (Django REST framework, GitHub, many SaaS APIs)
    _nocase(
        "bearer_token",
        r"authorization[\"']?[ \t]*[:=][ \t]*[\"']?token[ \t]+(?P<s>[a-z0-9._~+/-]{16,}=*)",
        _accept_value,
        "authorization",
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
        "-u --user",
    ),
    # scheme://user:password@host — only the password. Anchored on "://" so the scan can
    # use a literal prefix; user may be empty (redis://:password@host).
    _rule(
        "password_in_url",
        r"://(?P<user>[^\s:/@?#\"'<>]{0,100}):(?P<s>[^\s/@?#\"'<>]{1,200})@(?=[\w\[])",
        _accept_url_password,
        "@",
    ),
    # mysql -u root -pS3cret (the password is glued to -p; a bare -p prompts for it)
    _rule(
        "password",
        r"mysql(?<!\w.{5})\w{0,10}[ \t][^\n]{0,200}?(?<=[ \t])-p(?P<s>[^\s\"']+)",
        _accept_value,
        "mysql",
    ),
    # redis-cli -a <password>
    _rule(
        "password",
        r"redis-cli(?<!\w.{9})[^\n]{0,200}?(?<=[ \t])-a[ \t]+(?P<s>[^\s\"']+)",
        _accept_value,
        "redis-cli",
    ),
    # ~/.netrc: machine <host> login <user> password <password>
    _rule(
        "password",
        r"machine(?<!\w.{7})[ \t]+\S+[ \t]+login[ \t]+\S+[ \t]+password[ \t]+(?P<s>\S+)",
        _accept_value,
        "machine",
    ),
    # --- generic labelled assignments: env files, YAML/JSON/TOML, code, XML elements
    # (also prose: "the staging password is Xk9#mP2qLw")
    _nocase(
        "",
        rf"{_KEYWORD}(?P<tail>[\w.-]{{0,40}})[\"']?"
        rf"(?:[ \t]+is[ \t]+|[ \t]*(?P<sep>:=|=>|=|:|>)[ \t]*){_VALUE}",
        _accept_assignment,
        starts=_KEYWORDS,
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


def _starts(scan: tuple[re.Pattern[str], ...], folded: str) -> list[int]:
    if len(scan) == 1:
        return [hit.start() for hit in scan[0].finditer(folded)]
    return sorted({hit.start() for pattern in scan for hit in pattern.finditer(folded)})


def _matches(rule: _Rule, text: str, folded: str | None) -> Iterator[re.Match[str]]:
    """Like ``rule.regex.finditer(text)``: leftmost, non-overlapping matches."""
    if not rule.scan or folded is None:  # case-sensitive, or lower() shifted the offsets
        if rule.scan or not rule.hints or any(h in text for h in rule.hints):
            yield from rule.regex.finditer(text)
        return
    if rule.hints and not any(h in folded for h in rule.hints):
        return
    end = 0
    for start in _starts(rule.scan, folded):
        if start >= end and (m := rule.regex.match(text, start)) is not None:
            end = m.end()
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
