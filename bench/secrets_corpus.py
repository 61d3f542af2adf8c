"""A seeded generator of fake secrets in real formats, and of look-alikes that are not secrets.

    from bench.secrets_corpus import generate
    samples = generate(seed=7, split="held")   # list[Sample]

Nothing here is a real credential: every body is drawn from a seeded random generator at
run time. Each *format* (``notion_token``, ``pgpass_line``…) belongs to a *family* (cloud,
vcs, ci, payment, chat, ai, db, key, jwt, cookie, env, config, shell, header, prose) and
has several *templates* (how the secret is written: an env line, a JSON field, a header…).
Each sample puts one template inside one *context* (a commit message, a chat line, a log
line, a Markdown note, a shell prompt…).

Development and held-out halves: templates with an even index and the even contexts make
the development half; odd templates and odd contexts make the held-out half, so a held-out
sample is always worded differently from anything tuned on. A format with one template
uses it in both halves, but in other contexts and with other random bodies. Look-alikes
are split the same way (even / odd entries).

Decisions on what is *not* a secret (look-alikes): public keys and ids (Mapbox ``pk.``,
Stripe ``pk_live_``, reCAPTCHA site keys, Google OAuth client ids, Twilio account SIDs,
AWS role ids, SSH public keys, certificates, Sentry DSNs), hashes and ids (git shas,
UUIDs, digests, integrity strings, ULIDs, Mongo ids), placeholders (``<your-token>``,
``xxxx``, ``changeme``, ``${VAR}``, ``****``: a placeholder is documentation, and redacting
it would only hide how a config is written), documented example keys (AWS's ``…EXAMPLE``),
references to where a secret lives (``/run/secrets/db``, ``var.db_password``), and the word
"password" in prose.
"""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FORMATS", "LOOKALIKES", "Sample", "generate"]

LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
DIGITS = string.digits
ALNUM = string.ascii_letters + DIGITS
LOWER_ALNUM = LOWER + DIGITS
UPPER_ALNUM = UPPER + DIGITS
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
B32 = UPPER + "234567"
B32L = LOWER + "234567"


@dataclass(frozen=True)
class Sample:
    """One text: ``secret`` is the substring that must be redacted (None: a look-alike)."""

    family: str
    fmt: str
    text: str
    secret: str | None
    split: str  # "dev" or "held"


class Gen:
    """Random bodies that never look hand-typed (no 4 equal characters, all classes used)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def s(self, chars: str, n: int) -> str:
        while True:
            out = "".join(self.rng.choice(chars) for _ in range(n))
            if _natural(out, chars):
                return out

    def b64(self, raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    def bytes(self, n: int) -> bytes:
        return bytes(self.rng.randrange(256) for _ in range(n))

    def uuid(self) -> str:
        h = self.s(HEX, 32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return self.rng.choice(list(options))

    def password(self, symbols: str = "!#%^*-_.") -> str:
        """A human-chosen but strong password: letters, digits, a symbol."""
        core = self.s(ALNUM, self.rng.randint(9, 14))
        return core[:4] + self.pick(symbols) + core[4:] + str(self.rng.randint(10, 99))

    def url_password(self) -> str:
        """A password inside a URL: "#", "%" and "^" would have to be percent-encoded."""
        return self.password("!*-_.~")


def _natural(out: str, chars: str) -> bool:
    if any(out[i] == out[i + 1] == out[i + 2] == out[i + 3] for i in range(len(out) - 3)):
        return False
    if "example" in out.lower() or "xxxx" in out.lower():
        return False
    if len(out) >= 16:  # a long random string uses every class its alphabet has
        for cls in (LOWER, UPPER, DIGITS):
            if set(cls) & set(chars) and not set(cls) & set(out):
                return False
    return True


Fields = dict[str, str]
Maker = Callable[[Gen], Fields]


@dataclass(frozen=True)
class Format:
    name: str
    family: str
    make: Maker  # -> fields; "s" is the secret
    templates: tuple[str, ...]


def _pem(g: Gen, label: str, sep: str = "\n", lines: int = 8) -> str:
    body = sep.join(g.s(B64, 64) for _ in range(lines))
    return f"-----BEGIN {label}-----{sep}{body}{sep}{g.s(B64, 20)}=={sep}-----END {label}-----"


def _jwt(g: Gen, claims: dict[str, object] | None = None) -> str:
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    body = claims or {"sub": g.s(DIGITS, 6), "iat": 1718000000 + g.rng.randrange(10**6)}
    payload = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    return f"{head}.{payload}.{g.s(B64URL, 43)}"


def _user(g: Gen) -> str:
    return g.pick(("ada", "deploy", "svc_backup", "grace.h", "ci-bot", "app_rw", "admin"))


def _host(g: Gen) -> str:
    return g.pick(("db.internal", "10.0.4.17", "pg-prod-2.acme.net", "mysql.staging", "cache-1"))


F = Format
_FORMATS: list[Format] = []


def fmt(name: str, family: str, make: Maker, *templates: str) -> None:
    _FORMATS.append(Format(name, family, make, templates))


def tok(prefix: str, chars: str, n: int, suffix: str = "") -> Maker:
    return lambda g: {"s": prefix + g.s(chars, n) + suffix}


# ------------------------------------------------------------------------------ cloud
fmt(
    "aws_access_key",
    "cloud",
    lambda g: {"s": "AKIA" + g.s(B32, 16)},
    "AWS_ACCESS_KEY_ID={s}",
    '"AccessKeyId": "{s}",',
    "aws_access_key_id = {s}",
    "the CI user key is {s}",
)
fmt(
    "aws_secret_key",
    "cloud",
    tok("", B64, 40),
    "AWS_SECRET_ACCESS_KEY={s}",
    "aws_secret_access_key = {s}",
    '"SecretAccessKey": "{s}"',
    "secret_access_key: '{s}'",
)
fmt(
    "aws_key_pair",
    "cloud",
    lambda g: {"id": "AKIA" + g.s(B32, 16), "s": g.s(B64, 40)},
    "creds: {id} {s}",
    "{id}:{s}",
    "key id {id} / secret {s}",
    "use {id}, {s} for the upload",
)
fmt(
    "aws_session_token",
    "cloud",
    lambda g: {"s": g.pick(("IQoJb3JpZ2luX2VjE", "FwoGZXIvYXdzE")) + g.s(B64, 300) + "=="},
    "AWS_SESSION_TOKEN={s}",
    "aws_session_token = {s}",
    '"SessionToken": "{s}"',
    "export AWS_SESSION_TOKEN='{s}'",
)
fmt(
    "aws_cli_configure",
    "shell",
    tok("", B64, 40),
    "aws configure set aws_secret_access_key {s}",
    "aws configure set aws_secret_access_key {s} --profile prod",
)
fmt(
    "gcp_api_key",
    "cloud",
    tok("AIza", B64URL, 35),
    "GOOGLE_API_KEY={s}",
    "https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key={s}",
    'apiKey: "{s}",',
)
fmt(
    "gcp_service_account",
    "key",
    lambda g: {"s": _pem(g, "PRIVATE KEY", "\\n") + "\\n"},
    '{{"type": "service_account", "private_key": "{s}", "client_email": "x@p.iam.gserviceaccount.com"}}',
    '  "private_key": "{s}",',
)
fmt(
    "google_oauth_secret",
    "cloud",
    tok("GOCSPX-", B64URL, 28),
    '"client_secret": "{s}"',
    "GOOGLE_CLIENT_SECRET={s}",
)
fmt(
    "google_oauth_token",
    "cloud",
    tok("ya29.a0", B64URL, 120),
    "Authorization: Bearer {s}",
    "access_token={s}&expires_in=3599",
)
fmt(
    "google_refresh_token",
    "cloud",
    tok("1//0", B64URL, 99),
    '"refresh_token": "{s}"',
    "GOOGLE_REFRESH_TOKEN={s}",
)
fmt(
    "azure_storage_key",
    "cloud",
    tok("", B64, 86, "=="),
    "DefaultEndpointsProtocol=https;AccountName=dm;AccountKey={s};EndpointSuffix=core.windows.net",
    "az storage blob upload --account-name dm --account-key {s} -f x.db",
)
fmt(
    "azure_sas",
    "cloud",
    lambda g: {"s": g.s(ALNUM, 40) + "%3D"},
    "https://dm.blob.core.windows.net/b/x.db?sv=2022-11-02&sp=r&sig={s}",
    "SAS: ?sv=2021-08-06&ss=b&srt=o&se=2025-01-01&sig={s}",
)
fmt(
    "azure_servicebus",
    "cloud",
    tok("", B64, 43, "="),
    "Endpoint=sb://dm.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={s}",
    "HostName=dm.azure-devices.net;DeviceId=d7;SharedAccessKey={s}",
)
fmt(
    "azure_ad_client_secret",
    "cloud",
    lambda g: {"s": g.s(ALNUM, 3) + g.pick(DIGITS) + "Q~" + g.s(ALNUM + "-_.~", 34)},
    "AZURE_CLIENT_SECRET={s}",
    "the new client secret is {s}",
    "client secret: {s}",
    "rotated the app registration secret -> {s}",
)
fmt(
    "azure_function_key",
    "header",
    tok("", B64URL, 54, "=="),
    "https://dm-func.azurewebsites.net/api/ingest?code={s}",
    "curl -H 'x-functions-key: {s}' https://dm-func.azurewebsites.net/api/ingest",
    "POST /api/HttpTrigger1?code={s}&clientId=default",
    "x-functions-key: {s}",
)
fmt(
    "azure_apim_key",
    "header",
    tok("", HEX, 32),
    "Ocp-Apim-Subscription-Key: {s}",
    "headers = {{'Ocp-Apim-Subscription-Key': '{s}'}}",
    'curl -H "Ocp-Apim-Subscription-Key: {s}" https://api.cognitive.microsoft.com/x',
)
fmt("azure_openai_key", "ai", tok("", HEX, 32), "AZURE_OPENAI_API_KEY={s}", "api-key: {s}")
fmt(
    "azure_devops_pat",
    "vcs",
    tok("", B32L, 52),
    "AZURE_DEVOPS_EXT_PAT={s}",
    "my ADO PAT {s} expires friday",
    "git clone https://pat:{s}@dev.azure.com/acme/x/_git/x",
    "here is the PAT for the pipeline: {s}",
)
fmt(
    "azure_cosmos_key",
    "db",
    tok("", B64, 86, "=="),
    "AccountEndpoint=https://dm.documents.azure.com:443/;AccountKey={s};",
    "COSMOS_KEY={s}",
)
fmt(
    "alibaba_key",
    "cloud",
    tok("LTAI", ALNUM, 20),
    "ALIBABA_CLOUD_ACCESS_KEY_ID={s}",
    "accessKeyId: '{s}'",
)
fmt(
    "digitalocean_token",
    "cloud",
    tok("dop_v1_", HEX, 64),
    "DIGITALOCEAN_TOKEN={s}",
    "doctl auth init -t {s}",
)
fmt(
    "heroku_api_key",
    "cloud",
    lambda g: {"s": "HRKU-" + g.uuid()},
    "HEROKU_API_KEY={s}",
    "heroku token: {s}",
)
fmt(
    "cloudflare_token",
    "cloud",
    tok("", ALNUM + "_-", 40),
    "CLOUDFLARE_API_TOKEN={s}",
    "cf_api_token: {s}",
)
fmt("cloudflare_global_key", "cloud", tok("", HEX, 37), "CF_API_KEY={s}", "X-Auth-Key: {s}")
fmt(
    "flyio_token",
    "cloud",
    lambda g: {"s": "FlyV1 fm2_" + g.s(B64, 220) + ",fm2_" + g.s(B64, 120) + "=="},
    'FLY_API_TOKEN="{s}"',
    "fly deploy --access-token '{s}'",
    "Authorization: {s}",
    "fly token for CI: {s}",
)
fmt("vercel_token", "cloud", tok("", ALNUM, 24), "VERCEL_TOKEN={s}", "vercel deploy --token {s}")
fmt("netlify_token", "cloud", tok("nfp_", ALNUM, 36), "NETLIFY_AUTH_TOKEN={s}", "netlify token {s}")
fmt(
    "supabase_token",
    "cloud",
    tok("sbp_", HEX, 40),
    "SUPABASE_ACCESS_TOKEN={s}",
    "supabase login --token {s}",
)
fmt(
    "planetscale_password",
    "db",
    tok("pscale_pw_", B64URL, 43),
    "DATABASE_PASSWORD={s}",
    "password: {s}",
)
fmt(
    "doppler_token",
    "cloud",
    lambda g: {"s": "dp.st.prd." + g.s(ALNUM, 40)},
    "DOPPLER_TOKEN={s}",
    "doppler token {s}",
)
fmt("vault_token", "cloud", tok("hvs.", B64URL, 90), "VAULT_TOKEN={s}", "vault login {s}")
fmt(
    "terraform_cloud_token",
    "ci",
    lambda g: {"s": g.s(ALNUM, 14) + ".atlasv1." + g.s(ALNUM, 67)},
    'credentials "app.terraform.io" {{ token = "{s}" }}',
    "TF_TOKEN_app_terraform_io={s}",
)
fmt("pulumi_token", "ci", tok("pul-", HEX, 40), "PULUMI_ACCESS_TOKEN={s}", "pulumi login with {s}")
fmt(
    "onepassword_service_token",
    "cloud",
    lambda g: {"s": "ops_eyJ" + g.s(B64URL, 600)},
    "OP_SERVICE_ACCOUNT_TOKEN={s}",
    'export OP_SERVICE_ACCOUNT_TOKEN="{s}"',
    "1password service account: {s}",
)
fmt(
    "age_secret_key",
    "key",
    lambda g: {"s": "AGE-SECRET-KEY-1" + g.s("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)},
    "# created: 2024-06-11\n{s}",
    "age key {s}",
)

# ------------------------------------------------------------------------------ vcs, ci, registries
fmt(
    "github_pat",
    "vcs",
    tok("ghp_", ALNUM, 36),
    "export GITHUB_TOKEN={s}",
    "git clone https://{s}@github.com/acme/x.git",
    'curl -H "Authorization: token {s}" https://api.github.com/user',
)
fmt(
    "github_fine_grained",
    "vcs",
    lambda g: {"s": "github_pat_" + g.s(ALNUM, 22) + "_" + g.s(ALNUM, 59)},
    "GH_TOKEN={s}",
    "token: {s}",
)
fmt("github_oauth", "vcs", tok("gho_", ALNUM, 36), "oauth_token: {s}", "gho token {s}")
fmt("github_app_token", "ci", tok("ghs_", ALNUM, 36), "installation token {s}", "GITHUB_TOKEN: {s}")
fmt(
    "gitlab_pat",
    "vcs",
    tok("glpat-", B64URL, 20),
    'curl --header "PRIVATE-TOKEN: {s}" https://gitlab.com/api/v4/user',
    "GITLAB_TOKEN={s}",
)
fmt(
    "gitlab_runner",
    "ci",
    tok("glrt-", B64URL, 20),
    "gitlab-runner register --token {s}",
    'token = "{s}"',
)
fmt(
    "bitbucket_app_password",
    "vcs",
    lambda g: {"s": "ATBB" + g.s(ALNUM, 28) + g.s(HEX.upper(), 8)},
    "BITBUCKET_APP_PASSWORD={s}",
    "bitbucket app password: {s}",
)
fmt(
    "atlassian_token",
    "vcs",
    lambda g: {"s": "ATATT3xFfGF0" + g.s(B64URL, 171) + "=" + g.s(HEX.upper(), 8)},
    "JIRA_API_TOKEN={s}",
    "jira token {s} (expires in a year)",
    "{s}",
    "pasting my atlassian token here so I don't lose it {s}",
)
fmt(
    "git_credentials",
    "vcs",
    lambda g: {"u": _user(g), "s": g.url_password()},
    "https://{u}:{s}@github.com",
    "git remote set-url origin https://{u}:{s}@git.acme.net/x.git",
)
fmt(
    "circleci_token", "ci", tok("CCIPAT_", ALNUM, 22, "_"), "CIRCLE_TOKEN={s}", "circleci token {s}"
)
fmt("buildkite_token", "ci", tok("bkua_", HEX, 40), "BUILDKITE_API_TOKEN={s}", "bk token {s}")
fmt(
    "jenkins_token",
    "ci",
    lambda g: {"s": "11" + g.s(HEX, 32)},
    "JENKINS_API_TOKEN={s}",
    "curl -u admin:{s} https://ci.acme.net/job/x/build",
)
fmt("sonar_token", "ci", tok("sqp_", HEX, 40), "SONAR_TOKEN={s}", "sonar.token={s}")
fmt("codecov_token", "ci", lambda g: {"s": g.uuid()}, "CODECOV_TOKEN={s}", "codecov -t {s}")
fmt("snyk_token", "ci", lambda g: {"s": g.uuid()}, "SNYK_TOKEN={s}", "snyk auth {s}")
fmt(
    "npm_token",
    "ci",
    tok("npm_", ALNUM, 36),
    "//registry.npmjs.org/:_authToken={s}",
    "NPM_TOKEN={s}",
)
fmt(
    "pypi_token",
    "ci",
    tok("pypi-AgEIcHlwaS5vcmc", B64URL, 140),
    "twine upload -p {s} dist/*",
    "password = {s}",
)
fmt(
    "rubygems_key",
    "ci",
    tok("rubygems_", HEX, 48),
    "GEM_HOST_API_KEY={s}",
    ":rubygems_api_key: {s}",
)
fmt(
    "nuget_key",
    "ci",
    tok("oy2", LOWER_ALNUM, 43),
    "dotnet nuget push x.nupkg --api-key {s}",
    "NUGET_API_KEY={s}",
)
fmt(
    "dockerhub_pat",
    "ci",
    tok("dckr_pat_", B64URL, 27),
    "docker login -u ada -p {s}",
    "DOCKERHUB_TOKEN={s}",
)
fmt(
    "docker_login_p",
    "shell",
    lambda g: {"s": g.password()},
    "docker login -u deploy -p {s} registry.acme.net",
    "docker login registry.acme.net --username ci --password {s}",
)
fmt(
    "docker_config_auth",
    "config",
    lambda g: {"s": g.b64(f"{_user(g)}:{g.password()}".encode())},
    '{{"auths": {{"registry.acme.net": {{"auth": "{s}"}}}}}}',
    '"auths": {{\n    "https://index.docker.io/v1/": {{\n      "auth": "{s}"\n    }}\n  }}',
)
fmt(
    "artifactory_key",
    "ci",
    tok("AKCp", ALNUM, 69),
    "ARTIFACTORY_API_KEY={s}",
    "X-JFrog-Art-Api: {s}",
)
fmt(
    "grafana_token",
    "ci",
    lambda g: {"s": "glsa_" + g.s(ALNUM, 32) + "_" + g.s(HEX, 8)},
    "GRAFANA_TOKEN={s}",
    "grafana service account token {s}",
)
fmt(
    "newrelic_key", "ci", tok("NRAK-", UPPER_ALNUM, 27), "NEW_RELIC_API_KEY={s}", "newrelic key {s}"
)
fmt("datadog_api_key", "ci", tok("", HEX, 32), "DD_API_KEY={s}", "DD-API-KEY: {s}")
fmt(
    "datadog_app_key",
    "header",
    tok("", HEX, 40),
    "DD_APP_KEY={s}",
    "DD-APPLICATION-KEY: {s}",
    "datadog_app_key: {s}",
    "curl -H 'DD-APPLICATION-KEY: {s}' https://api.datadoghq.com/api/v1/dashboard",
)
fmt(
    "sentry_user_token",
    "ci",
    tok("sntryu_", HEX, 64),
    "SENTRY_AUTH_TOKEN={s}",
    "sentry-cli --auth-token {s} releases new 1.2",
    "sentry token {s}",
)
fmt(
    "sentry_org_token",
    "ci",
    tok("sntrys_eyJ", B64URL, 120),
    "SENTRY_AUTH_TOKEN={s}",
    "org token {s}",
)
fmt(
    "postman_key",
    "ci",
    lambda g: {"s": f"PMAK-{g.s(HEX, 24)}-{g.s(HEX, 34)}"},
    "POSTMAN_API_KEY={s}",
    "x-api-key: {s}",
)

# ------------------------------------------------------------------------------ payments
fmt(
    "stripe_secret",
    "payment",
    tok("sk_live_", ALNUM, 99),
    "STRIPE_SECRET_KEY={s}",
    "stripe.api_key = '{s}'",
)
fmt("stripe_restricted", "payment", tok("rk_live_", ALNUM, 99), "STRIPE_KEY={s}", "rk {s}")
fmt("stripe_webhook", "payment", tok("whsec_", ALNUM, 32), "STRIPE_WEBHOOK_SECRET={s}", "whsec {s}")
fmt(
    "square_secret",
    "payment",
    tok("sq0csp-", B64URL, 43),
    "SQUARE_APP_SECRET={s}",
    "square oauth secret {s}",
)
fmt("square_token", "payment", tok("EAAA", B64URL, 60), "SQUARE_ACCESS_TOKEN={s}", "Bearer {s}")
fmt(
    "razorpay_secret",
    "payment",
    lambda g: {"id": "rzp_live_" + g.s(ALNUM, 14), "s": g.s(ALNUM, 24)},
    "RAZORPAY_KEY_ID={id}\nRAZORPAY_KEY_SECRET={s}",
    'razorpay.Client(auth=("{id}", "{s}"))',
    "key_secret: {s}",
    "curl -u {id}:{s} https://api.razorpay.com/v1/payments",
)
fmt(
    "braintree_token",
    "payment",
    lambda g: {"s": f"access_token$production${g.s(LOWER_ALNUM, 16)}${g.s(HEX, 32)}"},
    "BRAINTREE_ACCESS_TOKEN={s}",
    "braintree token {s}",
)
fmt(
    "paypal_secret",
    "payment",
    tok("E", B64URL, 79),
    "PAYPAL_CLIENT_SECRET={s}",
    "client_secret: {s}",
)
fmt(
    "adyen_key",
    "payment",
    lambda g: {"s": "AQE" + g.s(B64URL, 100)},
    "ADYEN_API_KEY={s}",
    "X-API-Key: {s}",
)
fmt("paystack_key", "payment", tok("sk_live_", HEX, 40), "PAYSTACK_SECRET_KEY={s}", "paystack {s}")
fmt("mollie_key", "payment", tok("live_", ALNUM, 30), "MOLLIE_API_KEY={s}", "mollie api key {s}")
fmt(
    "shopify_token",
    "payment",
    tok("shpat_", HEX, 32),
    "SHOPIFY_ACCESS_TOKEN={s}",
    "X-Shopify-Access-Token: {s}",
)

# ------------------------------------------------------------------------------ chat, mail
fmt(
    "slack_bot",
    "chat",
    lambda g: {"s": f"xoxb-{g.s(DIGITS, 12)}-{g.s(DIGITS, 13)}-{g.s(ALNUM, 24)}"},
    "SLACK_BOT_TOKEN={s}",
    "slack token {s}",
)
fmt(
    "slack_user",
    "chat",
    lambda g: {"s": f"xoxp-{g.s(DIGITS, 12)}-{g.s(DIGITS, 12)}-{g.s(DIGITS, 13)}-{g.s(HEX, 32)}"},
    "SLACK_USER_TOKEN={s}",
    "token={s}",
)
fmt(
    "slack_webhook",
    "chat",
    lambda g: {
        "s": f"https://hooks.slack.com/services/T{g.s(UPPER_ALNUM, 8)}/B{g.s(UPPER_ALNUM, 10)}/{g.s(ALNUM, 24)}"
    },
    "SLACK_WEBHOOK_URL={s}",
    "POST to {s} failed with 404",
)
fmt(
    "discord_webhook",
    "chat",
    lambda g: {"s": f"https://discord.com/api/webhooks/{g.s(DIGITS, 19)}/{g.s(B64URL, 68)}"},
    "webhook: {s}",
    "DISCORD_WEBHOOK={s}",
)
fmt(
    "discord_bot",
    "chat",
    lambda g: {
        "s": base64.urlsafe_b64encode(g.s(DIGITS, 18).encode()).decode().rstrip("=")
        + "."
        + g.s(B64URL, 6)
        + "."
        + g.s(B64URL, 38)
    },
    "client.run('{s}')",
    "DISCORD_TOKEN={s}",
)
fmt(
    "telegram_bot",
    "chat",
    lambda g: {"id": g.s(DIGITS, 10), "s": "AA" + g.s(B64URL, 33)},  # the bot id is public
    "TELEGRAM_BOT_TOKEN={id}:{s}",
    "curl https://api.telegram.org/bot{id}:{s}/getMe",
)
fmt(
    "teams_webhook",
    "chat",
    lambda g: {
        "s": f"https://acme.webhook.office.com/webhookb2/{g.uuid()}@{g.uuid()}"
        f"/IncomingWebhook/{g.s(HEX, 32)}/{g.uuid()}"
    },
    "TEAMS_WEBHOOK_URL={s}",
    "post the alert to {s}",
    "teams_webhook: {s}",
    'Invoke-RestMethod -Uri "{s}" -Method Post -Body $json',
)
fmt(
    "mattermost_webhook",
    "chat",
    lambda g: {"s": f"https://chat.acme.net/hooks/{g.s(LOWER_ALNUM, 26)}"},
    "MATTERMOST_WEBHOOK={s}",
    "incoming webhook {s}",
)
fmt(
    "twilio_api_key",
    "chat",
    lambda g: {"s": "SK" + g.s(HEX, 32)},
    "TWILIO_API_KEY={s}",
    "api key sid {s}",
)
fmt(
    "twilio_auth_token",
    "chat",
    lambda g: {"sid": "AC" + g.s(HEX, 32), "s": g.s(HEX, 32)},
    "TWILIO_AUTH_TOKEN={s}",
    "curl -u {sid}:{s} https://api.twilio.com/x",
)
fmt(
    "sendgrid_key",
    "chat",
    lambda g: {"s": f"SG.{g.s(B64URL, 22)}.{g.s(B64URL, 43)}"},
    "SENDGRID_API_KEY={s}",
    "sendgrid key {s}",
)
fmt("mailgun_key", "chat", tok("key-", HEX, 32), "MAILGUN_API_KEY={s}", "mailgun {s}")
fmt(
    "mailchimp_key",
    "chat",
    lambda g: {"s": g.s(HEX, 32) + "-us" + str(g.rng.randint(2, 21))},
    "MAILCHIMP_API_KEY={s}",
    "mailchimp api key {s}",
)
fmt(
    "postmark_token",
    "chat",
    lambda g: {"s": g.uuid()},
    "POSTMARK_SERVER_TOKEN={s}",
    "X-Postmark-Server-Token: {s}",
)
fmt(
    "fcm_server_key",
    "chat",
    lambda g: {"s": "AAAA" + g.s(B64URL, 7) + ":APA91b" + g.s(B64URL, 134)},
    "FCM_SERVER_KEY={s}",
    "Authorization: key={s}",
    "firebase server key {s}",
    "curl -H 'Authorization: key={s}' https://fcm.googleapis.com/fcm/send",
)
fmt(
    "twitter_bearer",
    "chat",
    lambda g: {"s": "AAAAAAAAAAAAAAAAAAAAA" + g.s(ALNUM + "%", 91)},
    "TWITTER_BEARER_TOKEN={s}",
    "Authorization: Bearer {s}",
    "twitter bearer {s}",
    'bearer_token = "{s}"',
)
fmt(
    "notion_token",
    "chat",
    lambda g: {"s": g.pick(("secret_", "ntn_")) + g.s(ALNUM, 43)},
    "NOTION_TOKEN={s}",
    "notion integration token {s}",
    "Authorization: Bearer {s}",
    'const notion = new Client({{ auth: "{s}" }})',
)
fmt("linear_key", "chat", tok("lin_api_", ALNUM, 40), "LINEAR_API_KEY={s}", "linear {s}")
fmt(
    "asana_pat",
    "chat",
    lambda g: {"s": "2/" + g.s(DIGITS, 16) + "/" + g.s(DIGITS, 16) + ":" + g.s(HEX, 32)},
    "ASANA_PAT={s}",
    "asana token {s}",
)

# ------------------------------------------------------------------------------ AI providers
fmt(
    "openai_key",
    "ai",
    tok("sk-proj-", B64URL, 156),
    "OPENAI_API_KEY={s}",
    "client = OpenAI(api_key='{s}')",
)
fmt(
    "anthropic_key",
    "ai",
    lambda g: {"s": "sk-ant-api03-" + g.s(B64URL, 93) + "AA"},
    "ANTHROPIC_API_KEY={s}",
    "x-api-key: {s}",
)
fmt("groq_key", "ai", tok("gsk_", ALNUM, 52), "GROQ_API_KEY={s}", "groq {s}")
fmt(
    "huggingface_token",
    "ai",
    tok("hf_", ALNUM, 34),
    "HF_TOKEN={s}",
    "huggingface-cli login --token {s}",
)
fmt(
    "perplexity_key",
    "ai",
    tok("pplx-", ALNUM, 48),
    "PERPLEXITY_API_KEY={s}",
    "pplx key {s}",
    "Authorization: Bearer {s}",
    'api_key="{s}"',
)
fmt("replicate_token", "ai", tok("r8_", ALNUM, 37), "REPLICATE_API_TOKEN={s}", "replicate {s}")
fmt("deepseek_key", "ai", tok("sk-", HEX, 32), "DEEPSEEK_API_KEY={s}", "deepseek key {s}")
fmt(
    "langsmith_key",
    "ai",
    lambda g: {"s": f"lsv2_pt_{g.s(HEX, 32)}_{g.s(HEX, 10)}"},
    "LANGCHAIN_API_KEY={s}",
    "langsmith {s}",
)
fmt("pinecone_key", "ai", tok("pcsk_", B64URL, 70), "PINECONE_API_KEY={s}", "pinecone {s}")
fmt("xai_key", "ai", tok("xai-", ALNUM, 80), "XAI_API_KEY={s}", "grok key {s}")
fmt("cohere_key", "ai", tok("", ALNUM, 40), "COHERE_API_KEY={s}", "co_api_key: {s}")
fmt("mistral_key", "ai", tok("", ALNUM, 32), "MISTRAL_API_KEY={s}", "mistral api key: {s}")

# ------------------------------------------------------------------------------ databases
for scheme in ("postgres", "mysql", "mongodb+srv", "amqp", "mssql"):
    fmt(
        f"{scheme}_url",
        "db",
        lambda g: {"u": _user(g), "s": g.url_password(), "h": _host(g)},
        scheme + "://{u}:{s}@{h}/app",
        "DATABASE_URL=" + scheme + "://{u}:{s}@{h}:5432/app?sslmode=require",
    )
fmt(
    "redis_url",
    "db",
    lambda g: {"s": g.url_password(), "h": _host(g)},
    "REDIS_URL=redis://:{s}@{h}:6379/0",
    "rediss://default:{s}@{h}:6380",
)
fmt(
    "jdbc_password",
    "db",
    lambda g: {"u": _user(g), "s": g.url_password(), "h": _host(g)},
    "jdbc:postgresql://{h}:5432/app?user={u}&password={s}",
    "jdbc:sqlserver://{h};databaseName=app;user={u};password={s};encrypt=true",
)
fmt(
    "odbc_pwd",
    "db",
    lambda g: {"u": _user(g), "s": g.password(), "h": _host(g)},
    "Driver={{ODBC Driver 18 for SQL Server}};Server={h};Database=app;Uid={u};Pwd={{{s}}};",
    "DRIVER={{PostgreSQL Unicode}};SERVER={h};UID={u};PWD={s};DATABASE=app",
    "conn = pyodbc.connect('DSN=prod;UID={u};PWD={s}')",
    "Server={h};Database=app;User Id={u};Password={s};",
)
fmt(
    "sqlplus",
    "db",
    lambda g: {"u": _user(g), "s": g.password()},
    "sqlplus {u}/{s}@PRODDB",
    "sqlplus -s {u}/{s}@//db.acme.net:1521/ORCL @report.sql",
    "expdp {u}/{s}@orcl directory=dump",
    "rman target {u}/{s}@prod",
)
fmt(
    "pgpass",
    "db",
    lambda g: {"u": _user(g), "s": g.password(), "h": _host(g)},
    "{h}:5432:app:{u}:{s}",
    "# ~/.pgpass\n{h}:5432:*:{u}:{s}\n",
    "*:*:*:{u}:{s}",
    "echo '{h}:5432:app:{u}:{s}' >> ~/.pgpass",
)
fmt(
    "pgpassword_env",
    "shell",
    lambda g: {"s": g.password(), "h": _host(g)},
    "PGPASSWORD={s} psql -h {h} -U app",
    "PGPASSWORD='{s}' pg_dump -h {h} app > x.sql",
)
fmt(
    "mysql_p",
    "shell",
    lambda g: {"s": g.password()},
    "mysql -u root -p{s} app",
    "mysqldump -uroot -p{s} --all-databases",
)
fmt(
    "redis_cli_a",
    "shell",
    lambda g: {"s": g.password()},
    "redis-cli -h cache-1 -a {s} ping",
    "redis-cli -a '{s}' --scan",
)
fmt(
    "mongo_password",
    "shell",
    lambda g: {"s": g.password()},
    "mongosh mongodb://db:27017 -u admin -p {s}",
    "mongodump --username admin --password {s}",
)

# ------------------------------------------------------------------------------ private keys, files
fmt("rsa_private_key", "key", lambda g: {"s": _pem(g, "RSA PRIVATE KEY")}, "{s}", "key:\n{s}")
fmt(
    "openssh_private_key",
    "key",
    lambda g: {"s": _pem(g, "OPENSSH PRIVATE KEY")},
    "{s}",
    "id_ed25519:\n{s}",
)
fmt(
    "ec_private_key",
    "key",
    lambda g: {"s": _pem(g, "EC PRIVATE KEY", lines=3)},
    "{s}",
    "tls.key: |\n{s}",
)
fmt(
    "pgp_private_key",
    "key",
    lambda g: {
        "s": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
        + "\n".join(g.s(B64, 64) for _ in range(8))
        + "\n="
        + g.s(B64, 4)
        + "\n-----END PGP PRIVATE KEY BLOCK-----"
    },
    "{s}",
    "gpg --export-secret-keys:\n{s}",
)
fmt(
    "putty_key",
    "key",
    lambda g: {"s": "\n".join(g.s(B64, 64) for _ in range(14))},
    "PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\nComment: deploy\nPublic-Lines: 2\n"
    + "AAAAB3NzaC1yc2EAAAADAQABAAABAQ\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\nPrivate-Lines: 14\n{s}\nPrivate-MAC: abc",
    "PuTTY-User-Key-File-2: ssh-ed25519\nPrivate-Lines: 14\n{s}\n",
)
fmt(
    "kubeconfig_key",
    "key",
    lambda g: {"s": g.b64(_pem(g, "RSA PRIVATE KEY", lines=4).encode())},
    "users:\n- name: admin\n  user:\n    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\n"
    "    client-key-data: {s}",
    "client-key-data: {s}",
)
fmt(
    "wireguard_key",
    "key",
    lambda g: {"s": g.b64(g.bytes(32))},
    "[Interface]\nPrivateKey = {s}\nAddress = 10.0.0.2/32",
    "PrivateKey={s}",
)
fmt(
    "ssh_passphrase",
    "key",
    lambda g: {"s": g.password()},
    "ssh-keygen -p -P old -N {s} -f ~/.ssh/id_ed25519",
    "passphrase: {s}",
)
fmt(
    "k8s_secret_data",
    "config",
    lambda g: {"s": g.b64(g.password().encode())},
    "apiVersion: v1\nkind: Secret\ndata:\n  password: {s}\n",
    "kubectl create secret generic db --from-literal=password={s}",
)
fmt(
    "netrc",
    "config",
    lambda g: {"s": g.password()},
    "machine api.acme.net login ada password {s}",
    "machine github.com\n  login ada\n  password {s}",
)
fmt(
    "npmrc_auth",
    "config",
    lambda g: {"s": g.b64(f"ada:{g.password()}".encode())},
    "_auth={s}",
    "//npm.acme.net/:_auth={s}",
)
fmt(
    "pip_index_creds",
    "config",
    lambda g: {"s": g.url_password()},
    "index-url = https://ada:{s}@pypi.acme.net/simple",
    "PIP_INDEX_URL=https://__token__:{s}@pypi.acme.net/simple",
)
fmt(
    "maven_settings",
    "config",
    lambda g: {"s": g.password()},
    "<server><id>nexus</id><username>ci</username><password>{s}</password></server>",
    "<password>{s}</password>",
)
fmt(
    "gradle_properties",
    "config",
    lambda g: {"s": g.password()},
    "ossrhPassword={s}",
    "signing.password={s}",
)
fmt(
    "spring_properties",
    "config",
    lambda g: {"s": g.password()},
    "spring.datasource.password={s}",
    "spring:\n  datasource:\n    password: {s}",
)
fmt(
    "htpasswd_b",
    "shell",
    lambda g: {"s": g.password()},
    "htpasswd -b /etc/nginx/.htpasswd admin {s}",
    "htpasswd -cb .htpasswd ada {s}",
    "htpasswd -bB passwords.txt deploy {s}",
    "sudo htpasswd -b -c /etc/apache2/.htpasswd ops {s}",
)
fmt(
    "sshpass",
    "shell",
    lambda g: {"s": g.password()},
    "sshpass -p {s} ssh root@10.0.4.17",
    "sshpass -p '{s}' scp x.tgz ada@bastion:/tmp",
    'sshpass -p "{s}" rsync -a ./ ops@web-1:/srv',
    "SSHPASS= sshpass -p {s} ssh -o StrictHostKeyChecking=no deploy@db",
)
fmt(
    "net_use",
    "shell",
    lambda g: {"s": g.password()},
    "net use Z: \\\\fileserver\\share {s} /user:ACME\\ada",
    "net use \\\\10.0.4.17\\c$ /user:administrator {s}",
    "net use * \\\\nas\\backup {s} /user:backup /persistent:no",
    "net user svc_sql {s} /add",
)
fmt(
    "smbclient",
    "shell",
    lambda g: {"s": g.password()},
    "smbclient //nas/share -U ada%{s}",
    "mount -t cifs //nas/x /mnt -o username=ada,password={s}",
)
fmt(
    "ldap_bind",
    "shell",
    lambda g: {"s": g.password()},
    "ldapsearch -x -D cn=admin,dc=acme -w {s} -b dc=acme",
    "ldapadd -D cn=admin -w '{s}' -f x.ldif",
)
fmt(
    "openssl_pass",
    "shell",
    lambda g: {"s": g.password()},
    "openssl pkcs12 -export -in c.pem -passout pass:{s} -out c.p12",
    "openssl rsa -in k.pem -passin pass:{s}",
)
fmt(
    "curl_user",
    "shell",
    lambda g: {"s": g.password()},
    "curl -u admin:{s} https://ci.acme.net/api/json",
    "curl --user deploy:{s} -X POST https://x.acme.net",
)
fmt(
    "wget_password",
    "shell",
    lambda g: {"s": g.password()},
    "wget --user=ada --password={s} https://files.acme.net/x.tgz",
    "wget --password '{s}' ftp://nas/x",
)
fmt(
    "gh_with_token",
    "shell",
    tok("ghp_", ALNUM, 36),
    "echo {s} | gh auth login --with-token",
    "gh auth login --with-token <<< {s}",
)
fmt(
    "echo_password_stdin",
    "shell",
    lambda g: {"s": g.password()},
    "echo '{s}' | docker login -u ci --password-stdin",
    'echo "{s}" | sudo -S systemctl restart x',
)

# ------------------------------------------------------------------------------ JWTs, cookies, headers
fmt(
    "jwt",
    "jwt",
    lambda g: {"s": _jwt(g)},
    "Authorization: Bearer {s}",
    "token={s}",
    '{{"id_token": "{s}"}}',
    "jwt: {s}",
)
fmt(
    "bearer_opaque",
    "header",
    tok("", ALNUM, 40),
    "Authorization: Bearer {s}",
    "-H 'Authorization: Bearer {s}'",
)
fmt(
    "basic_header",
    "header",
    lambda g: {"s": g.b64(f"{_user(g)}:{g.password()}".encode())},
    "Authorization: Basic {s}",
    '-H "Authorization: Basic {s}"',
)
fmt(
    "api_key_header",
    "header",
    tok("", ALNUM, 40),
    "Authorization: Api-Key {s}",
    "curl -H 'Authorization: Api-Key {s}' https://api.acme.net/v1",
    "headers: {{ Authorization: `Api-Key {s}` }}",
    "Authorization: ApiKey {s}",
)
fmt(
    "x_api_key_header",
    "header",
    tok("", ALNUM, 40),
    "X-API-Key: {s}",
    'curl -H "x-api-key: {s}" https://api.acme.net',
    "X-Auth-Token: {s}",
    'requests.get(url, headers={{"X-Api-Key": "{s}"}})',
)
fmt(
    "gitlab_private_token_header",
    "header",
    tok("glpat-", B64URL, 20),
    "PRIVATE-TOKEN: {s}",
    "private_token={s}",
)
fmt(
    "django_session",
    "cookie",
    tok("", LOWER_ALNUM, 32),
    "Cookie: sessionid={s}; csrftoken=abc",
    "Set-Cookie: sessionid={s}; HttpOnly; Path=/",
    "sessionid={s}",
    'document.cookie = "sessionid={s}"',
)
fmt(
    "express_sid",
    "cookie",
    lambda g: {"s": "s%3A" + g.s(B64URL, 32) + "." + g.s(B64, 43)},
    "Cookie: connect.sid={s}",
    "Set-Cookie: connect.sid={s}; Path=/; HttpOnly",
    "connect.sid={s}",
    "curl -b 'connect.sid={s}' http://localhost:3000/me",
)
fmt(
    "php_session",
    "cookie",
    tok("", LOWER_ALNUM, 26),
    "Cookie: PHPSESSID={s}",
    "PHPSESSID={s}; path=/",
)
fmt("java_session", "cookie", tok("", HEX.upper(), 32), "Cookie: JSESSIONID={s}", "JSESSIONID={s}")
fmt(
    "laravel_session",
    "cookie",
    lambda g: {"s": "eyJpdiI6" + g.s(B64, 200) + "%3D"},
    "Cookie: laravel_session={s}",
    "laravel_session={s}; path=/",
)
fmt(
    "rails_session",
    "cookie",
    lambda g: {"s": g.s(B64, 120) + "--" + g.s(HEX, 40)},
    "Cookie: _app_session={s}",
    "_myapp_session={s}",
)
fmt(
    "aspnet_auth",
    "cookie",
    tok("", HEX.upper(), 160),
    "Cookie: .ASPXAUTH={s}",
    ".AspNetCore.Cookies={s}",
)

# ------------------------------------------------------------------------------ env, config
fmt(
    "laravel_app_key",
    "env",
    lambda g: {"s": "base64:" + g.b64(g.bytes(32))},
    "APP_KEY={s}",
    'APP_KEY="{s}"',
    "'key' => env('APP_KEY', '{s}'),",
    "app_key: {s}",
)
fmt(
    "rails_secret_key_base", "env", tok("", HEX, 128), "SECRET_KEY_BASE={s}", "secret_key_base: {s}"
)
fmt(
    "django_secret_key",
    "env",
    lambda g: {"s": "django-insecure-" + g.s(LOWER_ALNUM + "!@#%^&*(-_=+)", 50)},
    "SECRET_KEY = '{s}'",
    "DJANGO_SECRET_KEY={s}",
)
fmt(
    "nextauth_secret",
    "env",
    lambda g: {"s": g.b64(g.bytes(32))},
    "NEXTAUTH_SECRET={s}",
    'nextauth_secret: "{s}"',
)
fmt("jwt_secret", "env", tok("", ALNUM, 48), "JWT_SECRET={s}", "jwtSecret: '{s}'")
fmt(
    "session_secret",
    "env",
    tok("", ALNUM, 32),
    "SESSION_SECRET={s}",
    "app.use(session({{ secret: '{s}' }}))",
)
fmt(
    "encryption_key",
    "env",
    lambda g: {"s": g.b64(g.bytes(32))},
    "ENCRYPTION_KEY={s}",
    'encryptionKey = "{s}"',
)
fmt("generic_api_key_env", "env", tok("", ALNUM, 32), "API_KEY={s}", 'export SERVICE_API_KEY="{s}"')
fmt(
    "yaml_password",
    "config",
    lambda g: {"s": g.password()},
    "database:\n  user: app\n  password: {s}\n",
    'db:\n  password: "{s}"',
)
fmt(
    "json_api_key",
    "config",
    tok("", ALNUM, 36),
    '{{"apiKey": "{s}", "region": "eu"}}',
    '"api_key": "{s}",',
)
fmt("toml_token", "config", tok("", ALNUM, 40), '[auth]\ntoken = "{s}"', "token = '{s}'")
fmt(
    "ini_password",
    "config",
    lambda g: {"s": g.password()},
    "[database]\nhost = db\npassword = {s}",
    "[client]\nuser=root\npassword={s}",
)
fmt(
    "xml_password",
    "config",
    lambda g: {"s": g.password()},
    '<add key="DbPassword" value="{s}" />',
    '<property name="password" value="{s}"/>',
)
fmt(
    "tfvars", "config", lambda g: {"s": g.password()}, 'db_password = "{s}"', 'admin_password="{s}"'
)
fmt(
    "docker_compose_env",
    "config",
    lambda g: {"s": g.password()},
    "environment:\n  - POSTGRES_PASSWORD={s}",
    "    MYSQL_ROOT_PASSWORD: {s}",
)
fmt(
    "ansible_password",
    "config",
    lambda g: {"s": g.password()},
    "ansible_become_password: {s}",
    "ansible_ssh_pass={s}",
)
fmt(
    "long_labelled",
    "env",
    tok("", B64, 420),
    "PRIVATE_TOKEN={s}",
    'secret: "{s}"',
    "CERT_PASSWORD='{s}'",
    "license_key = {s}",
)
fmt(
    "quoted_labelled",
    "config",
    lambda g: {"s": g.password()},
    'password = "{s}"',
    "password: '{s}'",
    'DB_PASSWORD="{s}"',
    "'password' => '{s}',",
)

# ------------------------------------------------------------------------------ prose
fmt(
    "password_prose",
    "prose",
    lambda g: {"s": g.password()},
    "the staging password is {s}",
    "pw for the router: {s}",
    "new password for the wifi: {s} (changed monday)",
    "login is ada / {s}",
)


FORMATS: tuple[Format, ...] = tuple(_FORMATS)

# ------------------------------------------------------------------------------ contexts
# Even-indexed contexts belong to the development half, odd ones to the held-out half.
CONTEXTS: tuple[str, ...] = (
    "{x}",
    "{x}",
    "fix deploy script\n\n{x}\n\nSigned-off-by: Ada <ada@acme.net>",
    "[14:02] grace: here you go\n{x}\n[14:03] ada: thanks!",
    "2024-06-11T09:14:03Z DEBUG app.config: {x}",
    "```\n{x}\n```\nworks on staging, not prod",
    "- [ ] rotate this before friday: {x}",
    "$ {x}\n$ echo done",
    "Note from the incident call: {x} -- remove after the postmortem",
    "> {x}\n\nquoted from the runbook",
    "# .env.local\n{x}\nLOG_LEVEL=debug",
    "ada 10:41 AM\nok try this one {x}",
)


def _context(index: int, text: str) -> str:
    wrapper = CONTEXTS[index]
    if wrapper.startswith("$ ") and "\n" in text:
        wrapper = "{x}"  # a multi-line file is not a shell prompt
    return wrapper.replace("{x}", text)


# ------------------------------------------------------------------------------ look-alikes
Look = Callable[[Gen], str]
_LOOKS: list[tuple[str, str, Look]] = []


def look(name: str, family: str, make: Look) -> None:
    _LOOKS.append((name, family, make))


def _lit(text: str) -> Look:
    return lambda g: text


look(
    "mapbox_public",
    "public",
    lambda g: "pk.eyJ1IjoiYWRhIiwiYSI6Im" + g.s(B64URL, 32) + "." + g.s(B64URL, 22),
)
look("stripe_publishable", "public", lambda g: "STRIPE_PUBLISHABLE_KEY=pk_live_" + g.s(ALNUM, 99))
look("stripe_publishable_js", "public", lambda g: f"Stripe('pk_test_{g.s(ALNUM, 99)}')")
look("recaptcha_site_key", "public", lambda g: 'data-sitekey="6L' + g.s(B64URL, 38) + '"')
look(
    "google_client_id",
    "public",
    lambda g: (
        f"GOOGLE_CLIENT_ID={g.s(DIGITS, 12)}-{g.s(LOWER_ALNUM, 32)}.apps.googleusercontent.com"
    ),
)
look("twilio_account_sid", "public", lambda g: "TWILIO_ACCOUNT_SID=AC" + g.s(HEX, 32))
look("aws_role_id", "public", lambda g: '"RoleId": "AROA' + g.s(B32, 17) + '"')
look("aws_account_arn", "public", lambda g: f"arn:aws:iam::{g.s(DIGITS, 12)}:role/deploy")
look(
    "ssh_public_key",
    "public",
    lambda g: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + g.s(B64, 43) + " ada@laptop",
)
look(
    "ssh_rsa_public",
    "public",
    lambda g: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ" + g.s(B64, 300) + " ci@runner",
)
look(
    "certificate",
    "public",
    lambda g: (
        "-----BEGIN CERTIFICATE-----\n"
        + "\n".join(g.s(B64, 64) for _ in range(6))
        + "\n-----END CERTIFICATE-----"
    ),
)
look(
    "public_key_pem",
    "public",
    lambda g: (
        "-----BEGIN PUBLIC KEY-----\n"
        + "\n".join(g.s(B64, 64) for _ in range(4))
        + "\n-----END PUBLIC KEY-----"
    ),
)
look(
    "sentry_dsn",
    "public",
    lambda g: (
        f"SENTRY_DSN=https://{g.s(HEX, 32)}@o{g.s(DIGITS, 6)}.ingest.sentry.io/{g.s(DIGITS, 7)}"
    ),
)
look("firebase_auth_domain", "public", _lit('authDomain: "devmem-prod.firebaseapp.com",'))
look("algolia_app_id", "public", lambda g: "ALGOLIA_APP_ID=" + g.s(UPPER_ALNUM, 10))
look("ga_measurement", "public", lambda g: "gtag('config', 'G-" + g.s(UPPER_ALNUM, 10) + "');")
look("slack_channel", "public", lambda g: "posted in <#C" + g.s(UPPER_ALNUM, 10) + "|deploys>")
look("aws_docs_key", "example", _lit("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"))
look(
    "aws_docs_secret",
    "example",
    _lit("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
)
look("stripe_docs_key", "example", _lit("stripe.api_key = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'"))
look("git_sha", "hash", lambda g: "commit " + g.s(HEX, 40))
look("git_sha_prose", "hash", lambda g: f"fixed in {g.s(HEX, 40)}, see the revert {g.s(HEX, 7)}")
look(
    "git_log_oneline",
    "hash",
    lambda g: f"{g.s(HEX, 7)} Merge pull request #{g.s(DIGITS, 3)} from acme/fix-token-refresh",
)
look("uuid", "hash", lambda g: f"request_id={g.uuid()}")
look("uuid_json", "hash", lambda g: f'{{"id": "{g.uuid()}", "kind": "note"}}')
look("sha256_file", "hash", lambda g: f"{g.s(HEX, 64)}  devmem-1.2.0.tar.gz")
look("sha256_prefixed", "hash", lambda g: "sha256:" + g.s(HEX, 64))
look("docker_digest", "hash", lambda g: f"image: ghcr.io/acme/devmem@sha256:{g.s(HEX, 64)}")
look("docker_container_id", "hash", lambda g: f"container {g.s(HEX, 64)} exited with code 137")
look("npm_integrity", "hash", lambda g: f'"integrity": "sha512-{g.s(B64, 86)}=="')
look("go_sum", "hash", lambda g: f"golang.org/x/sys v0.21.0 h1:{g.s(B64, 43)}=")
look("cargo_checksum", "hash", lambda g: f'checksum = "{g.s(HEX, 64)}"')
look("md5_etag", "hash", lambda g: f'ETag: "{g.s(HEX, 32)}"')
look("content_hash_field", "hash", lambda g: f"content_hash: {g.s(HEX, 64)}")
look(
    "nix_store",
    "hash",
    lambda g: f"/nix/store/{g.s('0123456789abcdfghijklmnpqrsvwxyz', 32)}-python3-3.12.4",
)
look("ipfs_cid", "hash", lambda g: "ipfs://bafybei" + g.s(B32L, 52))
look(
    "ulid", "hash", lambda g: "memory 01J" + g.s("0123456789ABCDEFGHJKMNPQRSTVWXYZ", 23) + " saved"
)
look("mongo_objectid", "hash", lambda g: f'ObjectId("{g.s(HEX, 24)}")')
look("eth_address", "hash", lambda g: "0x" + g.s(HEX, 40))
look("base64_image", "data", lambda g: f'<img src="data:image/png;base64,{g.s(B64, 400)}=">')
look("base64_font", "data", lambda g: f"src: url(data:font/woff2;base64,{g.s(B64, 300)});")
look(
    "base64_prose",
    "data",
    lambda g: base64.b64encode(b"the quick brown fox jumps over the lazy dog, twice").decode(),
)
look("placeholder_angle", "placeholder", _lit("export GITHUB_TOKEN=<your-token>"))
look("placeholder_x", "placeholder", _lit("OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxx"))
look("placeholder_changeme", "placeholder", _lit("POSTGRES_PASSWORD=changeme"))
look("placeholder_var", "placeholder", _lit("password: ${DB_PASSWORD}"))
look("placeholder_env", "placeholder", _lit('api_key = os.environ["STRIPE_API_KEY"]'))
look("placeholder_process_env", "placeholder", _lit("const token = process.env.GITHUB_TOKEN;"))
look("placeholder_stars", "placeholder", _lit("password: ********"))
look("placeholder_your", "placeholder", _lit("Authorization: Bearer YOUR_API_KEY"))
look(
    "placeholder_brace", "placeholder", _lit("curl -H 'X-API-Key: {api_key}' https://api.acme.net")
)
look("placeholder_template", "placeholder", _lit("token: {{ vault_token }}"))
look("placeholder_dots", "placeholder", _lit("AWS_SECRET_ACCESS_KEY=..."))
look("placeholder_redacted", "placeholder", _lit("api_key=[REDACTED:api_key]"))
look("placeholder_url", "placeholder", _lit("postgres://user:password@localhost:5432/app"))
look(
    "placeholder_url_env",
    "placeholder",
    _lit("DATABASE_URL=postgres://${PGUSER}:${PGPASSWORD}@db/app"),
)
look("placeholder_sshpass", "placeholder", _lit('sshpass -p "$SSH_PASSWORD" ssh deploy@web-1'))
look(
    "placeholder_docker",
    "placeholder",
    _lit("docker login -u ci -p $DOCKER_PASSWORD registry.acme.net"),
)
look("placeholder_htpasswd", "placeholder", _lit("htpasswd -b .htpasswd admin <password>"))
look("placeholder_netuse", "placeholder", _lit("net use Z: \\\\server\\share /user:DOMAIN\\user *"))
look(
    "placeholder_aws_configure",
    "placeholder",
    _lit("aws configure set aws_secret_access_key $AWS_SECRET"),
)
look("placeholder_sqlplus", "placeholder", _lit("sqlplus scott/tiger@orcl"))
look(
    "placeholder_odbc",
    "placeholder",
    _lit("Driver={ODBC Driver 18};Server=db;Uid=app;Pwd={your_password};"),
)
look("placeholder_app_key", "placeholder", _lit("APP_KEY="))
look("placeholder_pgpass", "placeholder", _lit("hostname:port:database:username:password"))
look(
    "placeholder_k8s", "placeholder", _lit("secretKeyRef:\n  name: db-credentials\n  key: password")
)
look("reference_tf", "reference", _lit("password = var.db_password"))
look("reference_path", "reference", _lit("password_file: /run/secrets/db_password"))
look("reference_vault_tag", "reference", _lit("password: !vault |"))
look("reference_self", "reference", _lit("self.password = password"))
look("reference_function", "reference", _lit("token = get_token(scope='repo')"))
look("reference_keyring", "reference", _lit('password = keyring.get_password("devmem", user)'))
look("prose_password", "prose", _lit("Reset your password from the account page if you forget it."))
look("prose_password2", "prose", _lit("The password must contain at least 12 characters."))
look("prose_token_limit", "prose", _lit("max_tokens: 4096"))
look("prose_token_ttl", "prose", _lit("password_reset_token_ttl = 3600"))
look(
    "prose_token_url",
    "prose",
    _lit("token_url: https://login.microsoftonline.com/common/oauth2/v2.0/token"),
)
look("prose_secret_name", "prose", _lit("secret_name: prod-db-credentials"))
look("prose_passphrase", "prose", _lit("we use passphrases like correct-horse-battery-staple now"))
look("prose_i18n", "prose", _lit('"password_mismatch": "Passwords do not match"'))
look(
    "prose_api_key_header",
    "prose",
    _lit("Send the key in the X-API-Key header, not in the query string."),
)
look("prose_sessionid", "prose", _lit("Django stores the sessionid cookie with HttpOnly set."))
look("prose_connect_sid", "prose", _lit("express-session names its cookie connect.sid by default"))
look(
    "prose_net_use", "prose", _lit("net use lists the mapped drives; net use /delete removes them")
)
look(
    "prose_sshpass",
    "prose",
    _lit("sshpass -f ~/.sshpass-file ssh host reads the password from a file"),
)
look("prose_app_key", "prose", _lit("Run php artisan key:generate to set APP_KEY."))
look(
    "prose_bearer", "prose", _lit("The API expects an Authorization: Bearer header on every call.")
)
look("prose_client_secret", "prose", _lit("client_secret_expires_at: 0"))
look(
    "version_string",
    "version",
    lambda g: (
        f"devmem==1.{g.rng.randint(0, 30)}.{g.rng.randint(0, 9)} requires fastembed>=0.3.6,<0.5"
    ),
)
look(
    "version_build",
    "version",
    lambda g: f"version 2024.{g.rng.randint(1, 12)}.{g.rng.randint(1, 28)}+build.{g.s(HEX, 7)}",
)
look(
    "long_identifier",
    "ident",
    _lit("AbstractSingletonProxyFactoryBeanTokenResolverConfigurationAdapter"),
)
look("long_snake", "ident", _lit("refresh_access_token_if_expired_or_about_to_expire_soon"))
look(
    "java_class",
    "ident",
    _lit(
        "import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationTokenFilter;"
    ),
)
look("css_class", "ident", _lit('<div class="sk-three-bounce sk-circle-fade-delay-2">'))
look("env_var_name", "ident", _lit("AWS_SECRET_ACCESS_KEY_ROTATION_ENABLED=true"))
look(
    "url_no_creds",
    "url",
    lambda g: f"https://github.com/acme/devmemory/pull/{g.s(DIGITS, 3)}/files#diff-{g.s(HEX, 64)}",
)
look("url_query", "url", lambda g: f"https://www.youtube.com/watch?v={g.s(B64URL, 11)}&t=42s")
look(
    "url_oauth_state",
    "url",
    lambda g: f"https://login.acme.net/authorize?client_id=devmem&state={g.s(HEX, 16)}&scope=repo",
)
look("url_s3", "url", lambda g: f"s3://devmem-backups/{g.s(DIGITS, 8)}/notes.db")
look("url_with_user", "url", _lit("ssh://git@github.com/acme/devmemory.git"))
look("url_port", "url", _lit("http://localhost:8080/api/v1/memories?limit=20"))
look("hex_color", "misc", lambda g: f"color: #{g.s(HEX, 6)};")
look("ipv6", "misc", lambda g: "fe80::" + ":".join(g.s(HEX, 4) for _ in range(4)))
look("mac_address", "misc", lambda g: ":".join(g.s(HEX, 2) for _ in range(6)))
look("k8s_pod", "misc", lambda g: f"pod/api-{g.s(HEX, 10)}-{g.s(LOWER_ALNUM, 5)} restarted")
look("timestamp", "misc", lambda g: f"2024-06-11T09:{g.rng.randint(10, 59)}:03.{g.s(DIGITS, 6)}Z")
look("phone", "misc", lambda g: f"call +49 30 {g.s(DIGITS, 8)}")
look(
    "semver_hash",
    "misc",
    lambda g: f"v0.{g.rng.randint(1, 9)}.0-{g.rng.randint(1, 40)}-g{g.s(HEX, 7)}",
)
look("youtube_id", "misc", lambda g: "video id " + g.s(B64URL, 11))
look("otp_code", "misc", lambda g: f"your code is {g.s(DIGITS, 6)}")
look(
    "base64_json",
    "data",
    lambda g: base64.b64encode(b'{"page": 2, "limit": 50, "sort": "created"}').decode(),
)
look(
    "cursor",
    "data",
    lambda g: (
        "next_cursor="
        + base64.urlsafe_b64encode(f'{{"o": {g.rng.randint(1, 999)}}}'.encode()).decode()
    ),
)
look("hash_bcrypt_ref", "prose", _lit("passwords are stored as bcrypt hashes with cost 12"))
look(
    "jwt_io_sample",
    "example",
    _lit(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    ),
)
look(
    "pubkey_wireguard",
    "public",
    lambda g: f"[Peer]\nPublicKey = {g.b64(g.bytes(32))}\nAllowedIPs = 10.0.0.0/24",
)
look(
    "client_cert_data",
    "public",
    lambda g: (
        "client-certificate-data: "
        + g.b64(b"-----BEGIN CERTIFICATE-----\n" + g.s(B64, 120).encode())
    ),
)
look("azure_tenant_id", "public", lambda g: f"AZURE_TENANT_ID={g.uuid()}")
look("azure_client_id", "public", lambda g: f"AZURE_CLIENT_ID={g.uuid()}")
look("subscription_id", "public", lambda g: f"az account set --subscription {g.uuid()}")
look("razorpay_key_id", "public", lambda g: f"RAZORPAY_KEY_ID=rzp_test_{g.s(ALNUM, 14)}")
look(
    "teams_channel_link",
    "url",
    lambda g: f"https://teams.microsoft.com/l/channel/19%3a{g.s(HEX, 32)}%40thread.tacv2/General",
)
look(
    "docker_config_empty",
    "placeholder",
    _lit('{"auths": {"ghcr.io": {}}, "credsStore": "desktop"}'),
)
look(
    "kube_token_file",
    "reference",
    _lit("tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token"),
)
look("sessionid_short", "placeholder", _lit("sessionid=abc123"))
look("password_flag_prompt", "placeholder", _lit("mysql -u root -p app"))
look("password_empty", "placeholder", _lit('password: ""'))
look("markdown_heading", "prose", _lit("## Passwords and tokens: how we rotate them"))
look("changelog", "prose", _lit("- redact `Authorization: Api-Key` headers (#412)"))
look("code_token_type", "ident", _lit("def parse(self, token: Token) -> TokenStream:"))
look(
    "sql_password_column",
    "ident",
    _lit("ALTER TABLE users ADD COLUMN password_hash TEXT NOT NULL;"),
)
look("regex_in_code", "ident", _lit(r"PATTERN = re.compile(r'ghp_[A-Za-z0-9]{36}')"))
look(
    "commit_msg_tokens", "prose", _lit("refactor: rename access_token to session_token everywhere")
)
look("hex_in_log", "hash", lambda g: f"trace_id={g.s(HEX, 32)} span_id={g.s(HEX, 16)}")
look("uuid_header", "hash", lambda g: f"X-Request-Id: {g.uuid()}")
look("sha1_in_url", "hash", lambda g: f"https://github.com/acme/devmemory/commit/{g.s(HEX, 40)}")
look(
    "npm_lock_resolved",
    "url",
    lambda g: (
        f'"resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.{g.rng.randint(0, 3)}.0.tgz"'
    ),
)
look("pip_hash", "hash", lambda g: f"requests==2.32.3 --hash=sha256:{g.s(HEX, 64)}")
look(
    "gpg_fingerprint",
    "public",
    lambda g: "gpg: key " + g.s(HEX.upper(), 16) + ": public key imported",
)
look("ssh_fingerprint", "public", lambda g: f"SHA256:{g.s(B64, 43)} ada@laptop (ED25519)")
look("lorem_base64ish", "misc", _lit("aGVsbG8gd29ybGQ="))
look("math_expr", "misc", _lit("x = (a + b) * c / 2 - sqrt(d)"))
look("cron", "misc", _lit("*/5 * * * * /usr/local/bin/devmem sync markdown ~/notes"))
look(
    "file_path_long",
    "misc",
    lambda g: (
        f"/home/ada/src/devmemory/.venv/lib/python3.12/site-packages/{g.s(LOWER, 8)}/__init__.py"
    ),
)
look("windows_path", "misc", _lit("C:\\Users\\ada\\AppData\\Local\\devmemory\\memories.db"))
look("email", "misc", _lit("ping grace.hopper@acme.net about the token rotation"))
look(
    "mapbox_labelled",
    "public",
    lambda g: (
        "MAPBOX_ACCESS_TOKEN=pk.eyJ1IjoiZGV2bWVtIiwiYSI6Im"
        + g.s(B64URL, 30)
        + "In0."
        + g.s(B64URL, 22)
    ),
)
look(
    "mapbox_js",
    "public",
    lambda g: (
        "mapboxgl.accessToken = 'pk.eyJ1IjoiYWRhIiwiYSI6ImNs"
        + g.s(B64URL, 28)
        + "In0."
        + g.s(B64URL, 22)
        + "';"
    ),
)
look("stripe_pk_json", "public", lambda g: '{"publishableKey": "pk_live_' + g.s(ALNUM, 99) + '"}')
look(
    "posthog_public",
    "public",
    lambda g: "posthog.init('phc_" + g.s(ALNUM, 43) + "', {api_host: 'https://eu.posthog.com'})",
)
look("vapid_public", "public", lambda g: "VAPID_PUBLIC_KEY=B" + g.s(B64URL, 86))
look("session_cookie_name", "ident", _lit("SESSION_COOKIE_NAME = 'sessionid'"))
look("app_key_cipher", "ident", _lit("'cipher' => 'AES-256-CBC',"))
look("password_policy", "prose", _lit("PASSWORD_MIN_LENGTH=12"))
look("token_type", "prose", _lit('{"token_type": "Bearer", "expires_in": 3599}'))
look("api_version_header", "prose", _lit("X-API-Version: 2024-06-01"))
look("hash_in_prose", "hash", lambda g: f"the build cache key is {g.s(HEX, 40)} for this run")
look("uuid_prose", "hash", lambda g: f"tenant {g.uuid()} was migrated")


LOOKALIKES: tuple[tuple[str, str, Look], ...] = tuple(_LOOKS)


# ------------------------------------------------------------------------------ generation


def _half(index: int, split: str) -> bool:
    return (index % 2 == 0) == (split == "dev")


def _secret_samples(g: Gen, split: str, per_format: int) -> list[Sample]:
    contexts = [i for i in range(len(CONTEXTS)) if _half(i, split)]
    out: list[Sample] = []
    for f in FORMATS:
        templates = [
            t for i, t in enumerate(f.templates) if _half(i, split) or len(f.templates) == 1
        ]
        for _ in range(per_format):
            fields = f.make(g)
            text = g.pick(templates).format(**fields)
            out.append(
                Sample(f.family, f.name, _context(g.pick(contexts), text), fields["s"], split)
            )
    return out


def _lookalike_samples(g: Gen, split: str, per_entry: int) -> list[Sample]:
    contexts = [i for i in range(len(CONTEXTS)) if _half(i, split)]
    out: list[Sample] = []
    for i, (name, family, make) in enumerate(LOOKALIKES):
        if not _half(i, split):
            continue
        for _ in range(per_entry):
            out.append(Sample(family, name, _context(g.pick(contexts), make(g)), None, split))
    return out


def generate(seed: int, split: str = "held", per_format: int = 2) -> list[Sample]:
    """Secrets (``per_format`` per format) and look-alikes of one half, for one seed."""
    if split not in ("dev", "held"):
        raise ValueError(f"split must be 'dev' or 'held', not {split!r}")
    g = Gen(random.Random(zlib.crc32(f"{seed}:{split}".encode())))
    return _secret_samples(g, split, per_format) + _lookalike_samples(g, split, per_format)


# ------------------------------------------------------------------------------ blind set
# Written after the rules were tuned and measured once, never tuned on: new wordings and
# file types for known formats, and new look-alikes. (secret maker, template) / look-alike.
_BLIND_SECRETS: tuple[tuple[str, str, Maker, str], ...] = (
    (
        "github_pat",
        "ci",
        tok("ghp_", ALNUM, 36),
        "      - run: gh release create v1.2\n        env:\n          GH_TOKEN: {s}",
    ),
    (
        "openai_key",
        "ai",
        tok("sk-proj-", B64URL, 156),
        'In [3]: openai.api_key = "{s}"\nIn [4]: openai.models.list()',
    ),
    (
        "aws_secret_key",
        "cloud",
        tok("", B64, 40),
        'provider "aws" {{\n  region     = "eu-west-1"\n  secret_key = "{s}"\n}}',
    ),
    (
        "stripe_secret",
        "payment",
        tok("sk_live_", ALNUM, 99),
        "fetch(url, {{ headers: {{ Authorization: `Bearer {s}` }} }})",
    ),
    (
        "db_password",
        "config",
        lambda g: {"s": g.password()},
        "ENV DB_PASSWORD={s}\nRUN ./migrate.sh",
    ),
    (
        "systemd_env",
        "config",
        lambda g: {"s": g.password()},
        '[Service]\nEnvironment="REDIS_PASSWORD={s}"\nExecStart=/usr/bin/app',
    ),
    (
        "git_config_url",
        "vcs",
        lambda g: {"s": g.url_password()},
        '[remote "origin"]\n\turl = https://ada:{s}@git.acme.net/tools/x.git',
    ),
    (
        "helm_values",
        "config",
        lambda g: {"s": g.password()},
        "postgresql:\n  auth:\n    postgresPassword: {s}\n    database: app",
    ),
    (
        "powershell_secure",
        "shell",
        lambda g: {"s": g.password()},
        "$pw = ConvertTo-SecureString '{s}' -AsPlainText -Force",
    ),
    (
        "python_requests_auth",
        "shell",
        lambda g: {"s": g.password()},
        "r = requests.get(url, auth=('admin', '{s}'))",
    ),
    (
        "http_dump",
        "header",
        tok("", ALNUM, 40),
        "> GET /v1/items HTTP/1.1\n> Host: api.acme.net\n> X-API-Key: {s}\n> Accept: */*",
    ),
    (
        "stacktrace_url",
        "db",
        lambda g: {"s": g.url_password()},
        "sqlalchemy.exc.OperationalError: could not connect to postgresql://app:{s}@10.1.2.3:5432/prod",
    ),
    (
        "k8s_env",
        "config",
        lambda g: {"s": g.password()},
        'env:\n  - name: SMTP_PASSWORD\n    value: "{s}"',
    ),
    (
        "json_log",
        "cloud",
        tok("xoxb-", DIGITS + "-" + ALNUM, 50),
        '{{"level":"debug","msg":"posting","slack_token":"{s}"}}',
    ),
    (
        "email_sig",
        "prose",
        lambda g: {"s": "ghp_" + g.s(ALNUM, 36)},
        "Hi team,\nthe bot token for the release job is {s}\nCheers, Ada",
    ),
    (
        "anthropic_chat",
        "ai",
        lambda g: {"s": "sk-ant-api03-" + g.s(B64URL, 93) + "AA"},
        'user: why does this fail? client = Anthropic(api_key="{s}")',
    ),
    (
        "sendgrid_yaml",
        "chat",
        lambda g: {"s": f"SG.{g.s(B64URL, 22)}.{g.s(B64URL, 43)}"},
        "mail:\n  provider: sendgrid\n  key: {s}",
    ),
    (
        "pem_in_yaml",
        "key",
        lambda g: {"s": _pem(g, "PRIVATE KEY", "\n    ")},
        "tls:\n  key: |\n    {s}",
    ),
    (
        "mysql_cnf",
        "config",
        lambda g: {"s": g.password()},
        '[mysqldump]\nuser=backup\npassword="{s}"',
    ),
    (
        "curl_basic_b64",
        "header",
        lambda g: {"s": g.b64(f"svc:{g.password()}".encode())},
        "curl -H 'authorization: basic {s}' https://jenkins.acme.net/api",
    ),
)
_BLIND_LOOKS: tuple[tuple[str, Look], ...] = (
    ("gha_secret_ref", _lit("GH_TOKEN: ${{ secrets.GITHUB_TOKEN }}")),
    ("tf_var_ref", _lit("secret_key = var.aws_secret_key")),
    (
        "dockerfile_arg",
        _lit('ARG NPM_TOKEN\nRUN echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc'),
    ),
    (
        "helm_existing_secret",
        _lit(
            "auth:\n  existingSecret: pg-credentials\n  secretKeys:\n    adminPasswordKey: password"
        ),
    ),
    ("ps_read_host", _lit("$pw = Read-Host -AsSecureString 'Password'")),
    ("requests_env", _lit("r = requests.get(url, auth=(user, os.environ['API_PASSWORD']))")),
    ("http_dump_clean", _lit("> GET /v1/items HTTP/1.1\n> Host: api.acme.net\n> Accept: */*")),
    ("sqlalchemy_url_noauth", _lit("postgresql+psycopg://localhost/app")),
    (
        "k8s_secret_ref",
        _lit(
            "env:\n  - name: SMTP_PASSWORD\n    valueFrom:\n      secretKeyRef: {name: smtp, key: password}"
        ),
    ),
    (
        "json_log_clean",
        lambda g: (
            f'{{"level":"info","msg":"done","request_id":"{g.uuid()}","took_ms":{g.rng.randint(1, 900)}}}'
        ),
    ),
    ("commit_sha_list", lambda g: "\n".join(f"{g.s(HEX, 40)} refs/heads/b{i}" for i in range(3))),
    ("lockfile_hash", lambda g: f'"sha512-{g.s(B64, 86)}==",'),
    ("yaml_anchor", _lit("password: &pw\n  <<: *defaults")),
    ("docs_curl", _lit("curl -u USERNAME:PASSWORD https://api.acme.net/v1")),
    (
        "pem_public",
        lambda g: (
            "-----BEGIN RSA PUBLIC KEY-----\n"
            + "\n".join(g.s(B64, 64) for _ in range(3))
            + "\n-----END RSA PUBLIC KEY-----"
        ),
    ),
    (
        "css_hash_class",
        lambda g: f'<div class="css-{g.s(LOWER_ALNUM, 6)} e{g.s(LOWER_ALNUM, 6)}0">',
    ),
    ("webpack_chunk", lambda g: f"main.{g.s(HEX, 20)}.js 142 KiB"),
    (
        "prose_rotate",
        _lit("Rotate the Stripe secret key every 90 days; the publishable key can stay."),
    ),
    (
        "password_field_html",
        _lit('<input type="password" name="password" autocomplete="current-password">'),
    ),
    ("bcrypt_config", _lit("BCRYPT_ROUNDS=12\nPASSWORD_HASHER=argon2")),
)


def generate_blind(seed: int) -> list[Sample]:
    """The blind set: one sample per secret template and per look-alike, in two contexts."""
    g = Gen(random.Random(zlib.crc32(f"{seed}:blind".encode())))
    out: list[Sample] = []
    for name, family, make, template in _BLIND_SECRETS:
        for ctx in (0, 5):
            fields = make(g)
            out.append(
                Sample(family, name, _context(ctx, template.format(**fields)), fields["s"], "blind")
            )
    for name, make_look in _BLIND_LOOKS:
        for ctx in (0, 5):
            out.append(Sample("blind", name, _context(ctx, make_look(g)), None, "blind"))
    return out
