"""Heuristics behind the rules: placeholders, entropy, names, and the accept functions."""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

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


# In a long token, short markers ("your", "here_") turn up by chance (2 of 6 random 600-char
# 1Password tokens held one); there only separated or unmistakable markers count.
_PLACEHOLDER_LONG = re.compile(
    r"example|placeholder|changeme|dummy|redacted|replace[-_]?me|(?<![a-z0-9])your[-_]"
    r"|xxxxx|\*\*\*|\.\.\.|…|•|\$\{|\{\{|%\("
)


def _is_placeholder(value: str) -> bool:
    if len(value) > 48:
        return _PLACEHOLDER_LONG.search(value.lower()) is not None
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
_DOTTED = re.compile(rf"{_IDENT}(?:[?!]?\.{_IDENT})+")  # self.password, account?.idToken
_REFERENCE = re.compile(
    r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"
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
        return None if len(part) > 4 else int(len(part) > 2 or (prefix and len(after[0]) > 3))
    if len(part) < 2 or not _VOWELS.intersection(part.lower()):
        return None
    return int(len(part) > 2)  # "Os", "qi" in a password are not words; "Key", "With" are


_PART = re.compile(r"[?!]?\.")
# oauth2Client, s3Bucket, v2, Ed25519PrivateKey
_NUMBERED_WORD = re.compile(r"[A-Za-z][a-z]*\d+(?:[A-Z][a-z]+)*")


def _is_reference(value: str) -> bool:
    """A dotted name in code (self.password, process.env.API_KEY, this.oauth2Client): every
    part is short or made of words. "AETs.w3Xw5T20" is dotted too, but a password."""
    if not _DOTTED.fullmatch(value):
        return False
    return all(
        len(part) <= 3
        or _REFERENCE.fullmatch(part)
        or _NUMBERED_WORD.fullmatch(part)
        or _is_name(part)
        for part in _PART.split(value)
    )


# Public keys and ids that sit under secret-sounding labels (MAPBOX_ACCESS_TOKEN=pk.eyJ…,
# publishableKey, reCAPTCHA site keys): published in every page that uses them.
_PUBLIC = re.compile(r"pk\.eyJ|pk_(?:live|test)_|phc_|6L[\w-]{38}$")


def _looks_like_value(value: str, min_len: int, literal: bool = False) -> bool:
    """A literal, random-looking value — not a placeholder, reference, path or URL.

    ``literal``: the value is known to be a literal (quoted, or a command's argument), so a
    dotted word in it ("mh9B.nc5JZSW1V75") is not a code reference like ``self.password``.
    """
    if not min_len <= len(value) <= MAX_VALUE or value.isdigit() or _NOT_LITERAL.match(value):
        return False
    core = value.rstrip(":.=")  # "boolean:", "authorization_uri=" (but "abc..." stays)
    if _REFERENCE.fullmatch(core) or core.lower() in _PLACEHOLDER_WORDS or _is_name(core):
        return False
    if (not literal and _is_reference(core)) or _PUBLIC.match(value):
        return False
    if "://" in value or _CODE.search(value) or _is_prose(value):
        return False
    return _plausible(value) and _looks_random(value)  # _plausible: placeholders too


# --------------------------------------------------------------------------- accept functions

Accept = Callable[[re.Match[str]], bool]

# The longest labelled value taken whole: longer than any real credential (a 1Password
# service-account token is ~850 characters), short enough to keep matching linear.
MAX_VALUE = 16384


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


def _accept_arg(m: re.Match[str]) -> bool:
    """A password given as a command's argument: a literal, not $VAR, <password>, * or a word."""
    return _looks_like_value(_unquote(_secret(m)), 6, literal=True)


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
    return password != user and _looks_like_value(password, 6, literal=True)


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
    "budget validator validators strength encoder reset sent created updated at "
    "hasher hashers hashing algorithm algo cipher kdf scheme strategy rounds".split()
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
    if (sep is None or m.groupdict().get("gap")) and not _is_mixed(value):
        return False  # "<key> is <value>", "<key> for the wifi: <value>": generated values only
    flag_words = m.string[m.start() : m.start("kw")]  # "--api-" of --api-key
    if m.group("kw").lower() == "key" and not _key_names_a_secret_key(
        head + flag_words, m.group("kw")
    ):
        return False
    literal = raw[0] in "\"'`"
    return _looks_like_value(value, min_len, literal) and _key_is_secret(m, head)


# "<something>_key" names a secret (COSMOS_KEY, licenseKey, DD_APP_KEY) unless the
# something says otherwise: a public, primary, sort, cache… key.
_NOT_A_SECRET_KEY = frozenset(
    "public publishable primary foreign sort partition range cache idempotency object s3 "
    "bucket site hot map dict row group routing shard hash index lookup dedupe unique "
    "composite natural surrogate hotkey foreign_ ssh gpg pgp pub".split()
)


def _key_names_a_secret_key(head: str, keyword: str) -> bool:
    """A bare "key" keyword counts only as the last word of a longer name: COSMOS_KEY,
    licenseKey (but not monkey, hotkey)."""
    words = _KEY_WORDS.findall(head)
    if not words or not (head[-1] in "_.-" or (head[-1].islower() and keyword[0] == "K")):
        return False
    return words[-1].lower() not in _NOT_A_SECRET_KEY


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
