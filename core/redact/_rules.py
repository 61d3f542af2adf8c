"""The rule table: one regular expression per secret format, most specific first."""

from __future__ import annotations

import re

from core.redact._formats import PREFIXED_RULES, STRUCTURED_RULES
from core.redact._heuristics import (
    MAX_VALUE,
    _accept_arg,
    _accept_assignment,
    _accept_aws_secret,
    _accept_base62,
    _accept_basic_flag,
    _accept_basic_header,
    _accept_discord,
    _accept_mixed,
    _accept_pem,
    _accept_telegram,
    _accept_token,
    _accept_url_password,
    _accept_value,
)
from core.redact._rule import _nocase, _Rule, _rule

# --------------------------------------------------------------------------- the rule table


_B64 = r"A-Za-z0-9+/"
_PEM_BEGIN = r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
# The value of a generic assignment: a quoted string or a bare word. The bare form is
# possessive so that "get_token(" cannot backtrack to "get_toke" and sneak past the check.
# A bare value also stops at "&name=" (the next parameter of a query string or form body).
# Values of any realistic length are taken whole (issue 20, D3: a 300-character cap left the
# rest of a long token in clear); the bound only keeps matching linear.
_VALUE = (
    rf"""(?P<s>"[^"\n]{{1,{MAX_VALUE}}}"|'[^'\n]{{1,{MAX_VALUE}}}'|`[^`\n]{{1,{MAX_VALUE}}}`"""
    rf"""|(?:[^\s"'`,;(){{}}\[\]<>&]|&(?![\w.-]+=)){{1,{MAX_VALUE}}}+)"""
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
    r"key(?<=[\w.-]key)(?![\w-])",  # only ending a longer name: COSMOS_KEY, licenseKey
)
_KEYWORD = f"(?P<kw>{'|'.join(_KEYWORDS)})"
# Prose between a keyword and its value: "password for the wifi: …", "token of the bot is …".
_GAP = r"[ \t]+(?:for|of|on|to|at)(?:[ \t]+[\w.@/-]{1,30}){1,3}?(?=[ \t]*:|[ \t]+is[ \t])"

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
    # --- provider tokens with documented prefixes (issue 20)
    *PREFIXED_RULES,
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
        _accept_arg,
        "mysql",
    ),
    # redis-cli -a <password>
    _rule(
        "password",
        r"redis-cli(?<!\w.{9})[^\n]{0,200}?(?<=[ \t])-a[ \t]+(?P<s>\"[^\"\n]{1,200}\"|'[^'\n]{1,200}'|[^\s\"']+)",
        _accept_arg,
        "redis-cli",
    ),
    # ~/.netrc: machine <host> login <user> password <password>
    _rule(
        "password",
        r"machine(?<!\w.{7})[ \t]+\S+\s+login[ \t]+\S+\s+password[ \t]+(?P<s>\S+)",
        _accept_arg,
        "machine",
    ),
    # --- headers, cookies, files and command lines (issue 20)
    *STRUCTURED_RULES,
    # --- generic labelled assignments: env files, YAML/JSON/TOML, code, XML elements
    # (also prose: "the staging password is Xk9#mP2qLw")
    _nocase(
        "",
        rf"{_KEYWORD}(?P<tail>[\w.-]{{0,40}})[\"']?(?P<gap>{_GAP})?"
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
