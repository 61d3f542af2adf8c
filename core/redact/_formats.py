"""Rules added for issue 20: provider prefixes, headers, cookies, files and command lines.

Each rule is structural: a documented prefix or shape (``sntryu_`` + 64 hex, base64 that
decodes to a PEM private key, a ``.pgpass`` line), or a command's own password argument
(``sshpass -p``, ``htpasswd -b``, ``net use``), never a benchmark's wording.
"""

from __future__ import annotations

import base64
import binascii
import re

from core.redact._heuristics import (
    _accept_arg,
    _accept_mixed,
    _accept_token,
    _is_mixed,
    _plausible,
)
from core.redact._rule import _nocase, _Rule, _rule

_VAL = r"""(?P<s>"[^"\n]{1,200}"|'[^'\n]{1,200}'|[^\s"'`;|&<>]{1,200})"""


def _starts_word(m: re.Match[str]) -> bool:
    """No letter, digit or slash right before the match. (Checked here rather than with a
    leading look-behind, which re would evaluate at every position of the text.)"""
    return m.start() == 0 or not (
        m.string[m.start() - 1].isalnum() or m.string[m.start() - 1] in "/_"
    )


def _accept_hex_key(m: re.Match[str]) -> bool:
    """A hex key: letters and digits both (a word or a number is not one)."""
    s = m.group("s") if "s" in m.re.groupindex else m.group(0)
    start = m.start("s") if "s" in m.re.groupindex else m.start()
    if start > 0 and (m.string[start - 1].isalnum() or m.string[start - 1] in "/_"):
        return False
    return _plausible(s) and any(c.isdigit() for c in s) and any(c.isalpha() for c in s)


def _accept_base32_pat(m: re.Match[str]) -> bool:
    """An unlabelled 52-char lower-case base32 string (Azure DevOps PAT): random base32
    has ~10 digits in 52 characters; words and slugs have almost none."""
    s = m.group(0)
    return _starts_word(m) and sum(c.isdigit() for c in s) >= 4 and _plausible(s)


def _accept_aws_pair(m: re.Match[str]) -> bool:
    """40 base64 characters right after an access key id: its secret key."""
    return _is_mixed(m.group("s")) and _plausible(m.group("s"))


def _accept_userpass_b64(m: re.Match[str]) -> bool:
    """base64 of ``user:password`` (docker ``"auth"``, npm ``_auth``)."""
    try:
        decoded = base64.b64decode(m.group("s"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    user, sep, password = decoded.partition(":")
    return bool(sep and user and password) and decoded.isprintable() and password != user


def _accept_b64_private_key(m: re.Match[str]) -> bool:
    """base64 of a PEM private key (kubeconfig ``client-key-data``, k8s ``tls.key``)."""
    s = m.group("s")
    try:
        head = base64.b64decode(s[:64] + "=" * (-len(s[:64]) % 4)).decode("ascii", "replace")
    except (binascii.Error, ValueError):
        return False
    return "PRIVATE KEY" in head


_PGPASS_HOST = re.compile(r"(?:^|[\s'\"])[\w.*-]+\Z")


def _accept_pgpass(m: re.Match[str]) -> bool:
    """The field before the port is a whole host name (start of line, after a space/quote)."""
    host = _PGPASS_HOST.search(m.string, max(0, m.start() - 256), m.start())
    return host is not None and _accept_arg(m)


_ORACLE_TOOL = re.compile(
    r"(?<![\w-])(?:sqlplus|expdp|impdp|exp|imp|rman|sqlldr|dgmgrl)(?:[ \t]+-\w+)*[ \t]+"
    r"(?:target[ \t]+)?[\w$#.-]+\Z"
)


def _accept_oracle(m: re.Match[str]) -> bool:
    """``sqlplus user/password@db``: an Oracle tool and a user name right before the slash."""
    tool = _ORACLE_TOOL.search(m.string, max(0, m.start() - 120), m.start())
    return tool is not None and _accept_arg(m)


def _accept_twitter(m: re.Match[str]) -> bool:
    """Twitter app-only bearer tokens start with a run of "A"s (zero bytes in base64)."""
    return _plausible(m.group(0).lstrip("A"))


def _accept_cookie(m: re.Match[str]) -> bool:
    s = m.group("s")
    return len(s) >= 16 and _plausible(s) and any(c.isdigit() for c in s)


# Provider tokens with a documented prefix, most specific first. (kind, pattern, hints)
_PREFIXED: tuple[tuple[str, str, str], ...] = (
    ("sentry_token", r"sntry[us]_(?<!\w.{7})(?:[a-f0-9]{64}|eyJ[\w=+/-]{40,})", "sntry"),
    ("perplexity_key", r"pplx-(?<![\w-].{5})[A-Za-z0-9]{40,}", "pplx-"),
    ("notion_token", r"ntn_(?<!\w.{4})[A-Za-z0-9]{43,46}(?![A-Za-z0-9])", "ntn_"),
    ("notion_token", r"secret_(?<!\w.{7})[A-Za-z0-9]{43}(?![A-Za-z0-9])", "secret_"),
    ("square_token", r"sq0(?<!\w.{3})(?:csp|atp|idp)-[\w-]{22,}", "sq0"),
    ("square_token", r"EAAA(?<![\w-].{4})[\w-]{60}(?![\w-])", "EAAA"),
    ("onepassword_token", r"ops_(?<!\w.{4})eyJ[\w=+/-]{50,}", "ops_eyJ"),
    (
        "flyio_token",
        r"(?:FlyV1 )?fm[12]_(?<![\w+/].{4})[\w+/=]{60,}(?:,fm[12]_[\w+/=]{20,})*",
        "fm1 fm2",
    ),
    ("atlassian_token", r"ATATT(?<!\w.{5})[\w=-]{100,}", "ATATT"),
    ("atlassian_token", r"ATBB(?<!\w.{4})[A-Za-z0-9]{28,40}(?![A-Za-z0-9])", "ATBB"),
    ("artifactory_key", r"AKCp(?<!\w.{4})[A-Za-z0-9]{60,}", "AKCp"),
    ("grafana_token", r"gl(?<!\w..)(?:sa|c)_[A-Za-z0-9+/=_-]{32,}", "glsa_ glc_"),
    ("newrelic_key", r"NR(?<!\w..)(?:AK|II|JS)-[A-Z0-9]{27}(?![A-Z0-9])", "NRAK- NRII- NRJS-"),
    ("netlify_token", r"nfp_(?<!\w.{4})[A-Za-z0-9]{36,}", "nfp_"),
    ("supabase_token", r"sb[pa]_(?<!\w.{4})[a-f0-9]{40}(?![a-f0-9])", "sbp_ sba_"),
    ("planetscale_token", r"pscale_(?<!\w.{7})(?:tkn|pw|oauth)_[\w.-]{32,}", "pscale_"),
    ("doppler_token", r"dp\.(?<!\w...)(?:st|pt|ct|sa|scim|audit)\.[\w.-]{40,}", "dp."),
    ("terraform_token", r"[A-Za-z0-9]{14}\.atlasv1\.[\w-]{60,}", ".atlasv1."),
    ("pulumi_token", r"pul-(?<!\w.{4})[a-f0-9]{40}(?![a-f0-9])", "pul-"),
    ("circleci_token", r"CCI(?<!\w...)PAT_[\w]{20,}", "CCIPAT_"),
    ("buildkite_token", r"bkua_(?<!\w.{5})[a-f0-9]{40}", "bkua_"),
    ("sonar_token", r"sq[pua]_(?<!\w.{4})[a-f0-9]{40}(?![a-f0-9])", "sqp_ squ_ sqa_"),
    ("rubygems_key", r"rubygems_(?<!\w.{9})[a-f0-9]{48}", "rubygems_"),
    ("nuget_key", r"oy2(?<!\w...)[a-z0-9]{43}(?![a-z0-9])", "oy2"),
    ("dockerhub_token", r"dckr_(?<!\w.{5})(?:pat|oat)_[\w-]{27,}", "dckr_"),
    ("postman_key", r"PMAK-(?<!\w.{5})[a-f0-9]{24}-[a-f0-9]{34}", "PMAK-"),
    ("alibaba_key", r"LTAI(?<!\w.{4})[A-Za-z0-9]{12,20}(?![A-Za-z0-9])", "LTAI"),
    ("heroku_key", r"HRKU-(?<!\w.{5})[\w-]{36,}", "HRKU-"),
    ("api_key", r"key-(?<![\w-].{4})[a-f0-9]{32}(?![a-f0-9])", "key-"),
    # Anchored on "-us<n>" (a literal); the 32 hex digits before it are captured behind.
    ("mailchimp_key", r"-us\d(?!\w)(?<=(?P<s>[a-f0-9]{32}-us\d))", "-us"),
    ("mailchimp_key", r"-us\d\d(?!\w)(?<=(?P<s>[a-f0-9]{32}-us\d\d))", "-us"),
    (
        "braintree_token",
        r"access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}",
        "$production$ $sandbox$",
    ),
    ("fcm_server_key", r"AAAA(?<![\w-].{4})[\w-]{7}:APA91b[\w-]{100,}", ":APA91b"),
    ("twitter_bearer", r"A{20,}(?<![\w%].{20})[A-Za-z0-9%]{40,}", "AAAAAAAAAAAAAAAAAAAA"),
    ("linear_key", r"lin_(?<!\w.{4})(?:api|oauth)_[A-Za-z0-9]{40}", "lin_"),
    ("replicate_token", r"r8_(?<!\w...)[A-Za-z0-9]{37}(?![A-Za-z0-9])", "r8_"),
    ("langsmith_key", r"lsv2_(?<!\w.{5})(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}", "lsv2_"),
    ("pinecone_key", r"pcsk_(?<!\w.{5})[\w-]{50,}", "pcsk_"),
    ("xai_key", r"xai-(?<![\w-].{4})[A-Za-z0-9]{70,}", "xai-"),
    ("deepseek_key", r"sk-(?<![\w-]...)[a-f0-9]{32}(?![\w-])", "sk-"),
    ("paystack_key", r"sk_(?<!\w...)(?:live|test)_[a-f0-9]{40}(?![a-f0-9])", "sk_"),
    ("mollie_key", r"live_(?<!\w.{5})[A-Za-z0-9]{30}(?![A-Za-z0-9])", "live_"),
    ("mollie_key", r"test_(?<!\w.{5})[A-Za-z0-9]{30}(?![A-Za-z0-9])", "test_"),
    ("adyen_key", r"AQE(?<![\w-]...)[\w-]{80,}", "AQE"),
    (
        "asana_token",
        r"/\d{16}/\d{16}:[a-f0-9]{32}(?![a-f0-9])(?<=(?P<s>[012]/\d{16}/\d{16}:[a-f0-9]{32}))",
        "0/ 1/ 2/",
    ),
    (
        "aws_session_token",
        r"(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE)[A-Za-z0-9+/=]{100,}",
        "IQoJb3JpZ2luX2Vj FwoGZXIvYXdzE",
    ),
    ("azure_ad_client_secret", r"(?<![\w~.-])[\w~.-]{3}\dQ~[\w~.-]{31,34}(?![\w~.-])", "Q~"),
    ("azure_devops_pat", r"(?<![a-z2-7])[a-z2-7]{52}(?![A-Za-z0-9])", ""),
    (
        "teams_webhook",
        r"https://[\w.-]+\.(?:webhook\.office\.com/webhookb2|outlook\.office(?:365)?\.com/webhook)/[^\s\"'<>)]{40,}",
        "office",
    ),
    (
        "teams_webhook",
        r"https://[\w.-]+\.logic\.azure\.com[^\s\"'<>)]*?[?&]sig=[\w%-]{20,}",
        "logic.azure.com",
    ),
    ("mattermost_webhook", r"https?://[\w.-]+(?::\d+)?/hooks/[a-z0-9]{26}(?![a-z0-9])", "/hooks/"),
    ("secret", r"django-insecure-(?<!\w.{16})[^\s'\"`]{40,}", "django-insecure-"),
    ("laravel_app_key", r"base64:(?<=[\s=:'\"`]base64:)[A-Za-z0-9+/]{40,}={0,2}", "base64:"),
)

_ACCEPT_FOR = {
    "azure_devops_pat": _accept_base32_pat,
    "mailchimp_key": _accept_hex_key,
    "asana_token": _accept_token,
    "api_key": _accept_hex_key,
    "deepseek_key": _accept_hex_key,
    "laravel_app_key": _accept_token,
    "secret": _accept_token,
    "twitter_bearer": _accept_twitter,
}


def _prefixed_rules() -> list[_Rule]:
    return [
        _rule(kind, pattern, _ACCEPT_FOR.get(kind, _accept_mixed), hints)
        for kind, pattern, hints in _PREFIXED
    ]


# Headers and fields that carry a key under a name the generic rule cannot know.
_HEADER_NAMES = (
    r"x-functions-key|ocp-apim-subscription-key|dd-application-key|dd-api-key|x-api-key"
    r"|x-auth-token|x-auth-key|api-key|x-jfrog-art-api|x-postmark-server-token"
    r"|x-shopify-access-token|private-token|x-vault-token|x-goog-api-key|x-figma-token"
)


def _header_rule(kind: str, names: list[str]) -> _Rule:
    return _nocase(
        kind,
        rf"(?:{'|'.join(names)})[\"'`]?[ \t]*[:=,][ \t]*[\"'`]?(?P<s>[\w.~+/=%:-]{{16,}})",
        _accept_arg,
        " ".join(names),
        starts=tuple(rf"{n}[\"'`]?[ \t]*[:=,]" for n in names),
    )


_HEADERS = _HEADER_NAMES.split("|")

_STRUCTURED: list[_Rule] = [
    _header_rule("token", [n for n in _HEADERS if "token" in n]),
    _header_rule("api_key", [n for n in _HEADERS if "token" not in n]),
    # <add key="DbPassword" value="…"/>, <property name="password" value="…"/>
    _nocase(
        "password",
        r"(?:key|name)=\"[\w.:-]{0,40}(?:password|passwd|pwd|secret|token|apikey|api_key)"
        r"[\w.:-]{0,20}\"[ \t]+value=\"(?P<s>[^\"\n]{1,500})\"",
        _accept_arg,
        "value=",
        starts=('key="', 'name="'),
    ),
    # Kubernetes / compose env lists: the label is the name, the secret the next line's value.
    _nocase(
        "password",
        r"name:[ \t]*[\"']?[\w.-]{0,40}(?:pass(?:word|wd)?|secret|token|api_?key|credentials?)"
        r"[\"']?[ \t]*\r?\n[ \t]*value:[ \t]*"
        r"(?P<s>\"[^\"\n]{1,2000}\"|'[^'\n]{1,2000}'|[^\s\"'#][^\n#]{0,2000}?)[ \t]*(?=\r?\n|#|$)",
        _accept_arg,
        "value:",
        starts=("name:",),
    ),
    # HTTP clients' basic auth tuples: requests auth=('user', 'pass'), aiohttp BasicAuth('u', 'p').
    _rule(
        "password",
        r"(?:auth[ \t]*=[ \t]*\(|BasicAuth\(|DigestAuth\()[ \t]*(?P<q>[\"'])[^\"'\n]{1,100}(?P=q)"
        r"[ \t]*,[ \t]*(?P<s>\"[^\"\n]{1,200}\"|'[^'\n]{1,200}')",
        _accept_arg,
        "auth BasicAuth DigestAuth",
    ),
    # A key id followed by its secret: Razorpay (key id public, secret 24 characters).
    _rule(
        "razorpay_secret",
        r"rzp_(?<!\w.{4})(?:live|test)_[A-Za-z0-9]{14}[^\n]{1,12}?(?<![A-Za-z0-9])"
        r"(?P<s>[A-Za-z0-9]{24})(?![A-Za-z0-9])",
        _accept_aws_pair,
        "rzp_",
    ),
    # A UUID given as a CLI token: codecov -t <uuid>, snyk auth <uuid>, --token <uuid>.
    _nocase(
        "token",
        r"(?:-t|--token|--auth-token|--api-key|auth|login)[ \t=]+[\"']?"
        r"(?P<s>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?![\w-])",
        _accept_token,
        "-t --token --auth-token --api-key auth login",
        starts=("-t[ \t=]", "--token", "--auth-token", "--api-key", "auth[ \t]", "login[ \t]"),
    ),
    # Authorization: <scheme> <credential> for schemes other than Bearer/Basic/Token.
    _nocase(
        "api_key",
        r"authorization[\"'`]?[ \t]*[:=][ \t]*[\"'`]?(?:api-?key|key|ssws|flyv1|splunk|hmac|dsn)"
        r"[ \t=]+(?P<s>[^\s\"'`]{16,})",
        _accept_token,
        "authorization",
        starts=("authorization",),
    ),
    # ?code= on Azure Functions URLs (and any long code= query parameter: OAuth codes too).
    _rule("azure_function_key", r"[?&]code=(?P<s>[\w%=-]{40,})", _accept_mixed, "code="),
    # Session cookies: the id *is* the login. (Cookie names are case-sensitive.)
    _rule(
        "session_cookie",
        r"(?:sessionid|connect\.sid|PHPSESSID|JSESSIONID|ASP\.NET_SessionId|\.ASPXAUTH"
        r"|\.AspNetCore\.[\w.]+|session_id|remember_token)=(?P<s>[^\s;,\"'`]{16,})",
        _accept_cookie,
        "sessionid= connect.sid= PHPSESSID= JSESSIONID= ASP.NET_SessionId= .ASPXAUTH="
        " .AspNetCore. session_id= remember_token=",
    ),
    _rule(
        "session_cookie",
        r"_session=(?P<s>[^\s;,\"'`]{16,})",  # Rails/Laravel-style <app>_session cookies
        _accept_cookie,
        "_session=",
    ),
    # docker config.json "auth" / .npmrc _auth: base64 of user:password.
    _rule(
        "basic_auth",
        r"\"(?:auth|identitytoken)\"[ \t]*:[ \t]*\"(?P<s>[A-Za-z0-9+/]{8,}={0,2})\"",
        _accept_userpass_b64,
        '"auth" "identitytoken"',
    ),
    _rule(
        "basic_auth",
        r"_auth(?<![\w-]_auth)[ \t]*=[ \t]*(?P<s>[A-Za-z0-9+/]{8,}={0,2})",
        _accept_userpass_b64,
        "_auth",
    ),
    # base64 of a PEM private key: "-----BEGIN" encodes as "LS0tLS1CRUdJTi".
    _rule(
        "private_key",
        r"(?P<s>LS0tLS1CRUdJTi[A-Za-z0-9+/]{40,}={0,2})",
        _accept_b64_private_key,
        "LS0tLS1CRUdJTi",
    ),
    # PuTTY key files: the base64 lines after "Private-Lines: N".
    _rule(
        "private_key",
        r"Private-Lines:[ \t]*\d+\r?\n(?P<s>(?:[A-Za-z0-9+/=]{4,}(?:\r?\n|$))+)",
        _accept_token,
        "Private-Lines:",
    ),
    # AWS secret key written right after its access key id.
    _rule(
        "aws_secret_key",
        r"A(?:KIA|SIA)(?<![A-Za-z0-9].{4})[A-Z2-7]{16}[^\n]{1,24}?(?<![A-Za-z0-9/+])"
        r"(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        _accept_aws_pair,
        "AKIA ASIA",
    ),
    # .pgpass: host:port:database:user:password (port is digits or *). Anchored on the
    # port's colon (a literal); the host before it is checked by the accept function.
    _rule(
        "password",
        r":(?:\d{1,5}|\*):[\w.*-]+:[\w.@*-]+:(?P<s>[^\s:'\"]+)(?=[\s'\"]|$)",
        _accept_pgpass,
        ":",
    ),
    # ODBC braces: Pwd={p@ss;word}
    _nocase(
        "password",
        r"(?:pwd|password)[ \t]*=[ \t]*\{(?P<s>(?:[^}\n]|\}\}){1,200})\}",
        _accept_arg,
        "pwd password",
        starts=("pwd", "password"),
    ),
    # sqlplus user/password@db (Oracle tools)
    _rule(
        "password",
        r"/(?P<s>[^\s@/\"':]{1,200})@(?=[\w/])",
        _accept_oracle,
        "sqlplus expdp impdp exp imp rman sqlldr dgmgrl",
    ),
]

# Command lines: each tool's own password argument. (pattern, hints)
_CLI: tuple[tuple[str, str], ...] = (
    (rf"sshpass(?:[ \t]+-[a-oq-z]\S*)*[ \t]+-p[ \t]*{_VAL}", "sshpass"),
    (
        rf"htpasswd[ \t]+-[a-zA-Z]*b[a-zA-Z]*(?:[ \t]+-\w+)*[ \t]+\S+[ \t]+\S+[ \t]+{_VAL}",
        "htpasswd",
    ),
    (
        rf"net[ \t]+use(?:[ \t]+(?:[A-Za-z]:|\*))?[ \t]+\\\\\S+(?:[ \t]+/user:\S+)?[ \t]+(?!/){_VAL}",
        "net",
    ),
    (rf"net[ \t]+user[ \t]+\S+[ \t]+(?!/){_VAL}", "net"),
    (
        rf"login(?<=[ \t]login)\b[^\n|]*?[ \t](?:-p|--password)(?:=|[ \t]+){_VAL}",
        "login",
    ),
    (
        rf"aws[ \t]+configure[ \t]+set[ \t]+(?:[\w.-]*\.)?aws_(?:secret_access_key|session_token)"
        rf"[ \t]+{_VAL}",
        "configure",
    ),
    (rf"-pass(?:in|out)?[ \t]+[\"']?pass:{_VAL}", "pass:"),
    (rf"ldap\w*[^\n|]*?[ \t]-w[ \t]+{_VAL}", "ldap"),
    (rf"-U(?<=[ \t]-U)[ \t]+[\w.\\-]+%{_VAL}", "-U"),  # samba tools: -U user%password
    (rf"ssh-keygen[^\n|]*?[ \t]-N[ \t]+{_VAL}", "ssh-keygen"),  # new passphrase
    (rf"ssh-keygen[^\n|]*?[ \t]-P[ \t]+{_VAL}", "ssh-keygen"),  # old passphrase
    (rf"mongo(?:sh|dump|restore|import|export)?[^\n|]*?[ \t]-p[ \t]+{_VAL}", "mongo"),
    (
        rf"ConvertTo-SecureString[ \t]+(?:-String[ \t]+)?{_VAL}[ \t]+-AsPlainText",
        "ConvertTo-SecureString",
    ),
    (rf"echo[ \t]+{_VAL}[ \t]*\|[ \t]*(?:sudo[ \t]+-S|[^\n|]*--password-stdin|chpasswd)", "echo"),
)


_REGISTRY_LOGIN = re.compile(r"(?:docker|podman|buildah|oras|crane|registry|auth)[ \t]+\Z")


def _accept_login(m: re.Match[str]) -> bool:
    """``<registry tool> login … -p <password>``: the word before "login" names the tool."""
    tool = _REGISTRY_LOGIN.search(m.string, max(0, m.start() - 24), m.start())
    return tool is not None and _accept_arg(m)


def _cli_rules() -> list[_Rule]:
    return [
        _rule("password", pattern, _accept_login if hints == "login" else _accept_arg, hints)
        for pattern, hints in _CLI
    ]


PREFIXED_RULES: tuple[_Rule, ...] = tuple(_prefixed_rules())
STRUCTURED_RULES: tuple[_Rule, ...] = tuple(_STRUCTURED) + tuple(_cli_rules())
