"""Microsoft 365 sign-in with msal: device code or browser (auth code + PKCE), a token cache
kept with owner-only permissions, silent refresh.

msal talks to the identity platform through our ``httpx.Client`` (msal's documented
``http_client`` option, adapted by :class:`MsalHttpClient`), so the CLI's proxy and CA
settings apply and tests can point msal at a local HTTPS server: ``authority`` is any
``https://host/tenant`` URL and, for a host msal does not know, ``instance_discovery=False``
(msal's documented switch for "known authorities") skips the call to login.microsoftonline.com.

The token cache is msal-extensions' ``PersistedTokenCache`` (cross-process lock, reload on
change) over the OS keyring where one works (``build_encrypted_persistence``: Keychain,
DPAPI, libsecret), else over :class:`OwnerOnlyFilePersistence`, a file written atomically
with mode 0600 in a 0700 folder. Tokens never leave it: status shows account and scopes.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import msal
import platformdirs
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS
from msal_extensions import FilePersistence, PersistedTokenCache, build_encrypted_persistence
from msal_extensions.persistence import BasePersistence, PersistenceNotFound

from core import ConnectorAuthError, ConnectorError

LOGIN_HOST = "https://login.microsoftonline.com"
DEFAULT_TENANT = "organizations"  # work and school accounts: Teams and chats need one
BASE_SCOPES = ("Mail.Read", "Calendars.Read", "Chat.Read", "Files.Read")
CHANNEL_SCOPES = ("Team.ReadBasic.All", "Channel.ReadBasic.All", "ChannelMessage.Read.All")
CACHE_FILE = "m365_token_cache.json"
LOGIN_HINT = "Run `devmem m365 login`."


@dataclass(frozen=True)
class M365Settings:
    """Who signs in where: the app registration, the authority and the cache location."""

    client_id: str
    authority: str
    scopes: tuple[str, ...] = BASE_SCOPES
    cache_path: Path = Path(platformdirs.user_data_dir("devmemory")) / CACHE_FILE
    encrypted_cache: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> M365Settings:
        """``DEVMEM_M365_CLIENT_ID``, ``DEVMEM_M365_TENANT`` (default organizations),
        ``DEVMEM_M365_AUTHORITY`` (whole URL, for sovereign clouds and tests),
        ``DEVMEM_M365_TOKEN_CACHE`` (path) and ``DEVMEM_M365_KEYRING=0`` (file cache only)."""
        tenant = env.get("DEVMEM_M365_TENANT", "").strip() or DEFAULT_TENANT
        authority = env.get("DEVMEM_M365_AUTHORITY", "").strip() or f"{LOGIN_HOST}/{tenant}"
        cache = env.get("DEVMEM_M365_TOKEN_CACHE", "").strip()
        return cls(
            client_id=env.get("DEVMEM_M365_CLIENT_ID", "").strip(),
            authority=authority.rstrip("/"),
            cache_path=Path(cache).expanduser() if cache else cls.cache_path,
            encrypted_cache=env.get("DEVMEM_M365_KEYRING", "1").lower()
            not in ("0", "no", "off", "false"),
        )

    def with_channels(self) -> M365Settings:
        scopes = tuple(dict.fromkeys([*self.scopes, *CHANNEL_SCOPES]))
        return M365Settings(
            self.client_id, self.authority, scopes, self.cache_path, self.encrypted_cache
        )


class OwnerOnlyFilePersistence(FilePersistence):  # type: ignore[misc]
    """msal-extensions' file persistence, written atomically with mode 0600 every time."""

    def __init__(self, location: str) -> None:
        Path(location).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        super().__init__(location)

    def save(self, content: str) -> None:
        path = Path(self.get_location())
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp: mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
            os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


PersistenceFactory = Callable[[str], BasePersistence]


class TokenStore:
    """The persisted msal token cache: keyring when available, else a 0600 file."""

    def __init__(
        self,
        path: Path,
        *,
        encrypted: bool = True,
        factory: PersistenceFactory = build_encrypted_persistence,
    ) -> None:
        self.path = path
        self.persistence, self.kind = _persistence(path, encrypted, factory)
        self.cache = PersistedTokenCache(self.persistence)

    def describe(self) -> str:
        if self.kind == "keyring":
            return f"OS keyring ({type(self.persistence).__name__}), marker file {self.path}"
        return f"file {self.path} (owner-only, 0600)"

    def accounts(self) -> list[dict[str, Any]]:
        return list(self.cache.search(msal.TokenCache.CredentialType.ACCOUNT))

    def scopes(self) -> list[str]:
        """The scopes of the cached tokens (never the tokens themselves)."""
        found: set[str] = set()
        for kind in (
            msal.TokenCache.CredentialType.ACCESS_TOKEN,
            msal.TokenCache.CredentialType.REFRESH_TOKEN,
        ):
            for entry in self.cache.search(kind):
                found |= set(str(entry.get("target") or "").split())
        return sorted(found, key=str.lower)

    def clear(self) -> bool:
        """Forget every account and token; True when there was something to forget."""
        had = bool(self.accounts()) or self.path.exists()
        self.persistence.save("{}")  # empties a keyring entry too
        for leftover in (self.path, Path(f"{self.path}.lockfile")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        self.cache = PersistedTokenCache(self.persistence)
        return had


def _persistence(
    path: Path, encrypted: bool, factory: PersistenceFactory
) -> tuple[BasePersistence, str]:
    if encrypted:
        try:
            persistence = factory(str(path))
            with contextlib.suppress(PersistenceNotFound):
                persistence.load()  # a keyring that is installed but locked or absent fails here
            return persistence, "keyring"
        except Exception:  # noqa: BLE001 - any keyring failure means: use the 0600 file
            pass
    return OwnerOnlyFilePersistence(str(path)), "file"


class MsalHttpClient:
    """msal's ``http_client`` interface (``get``/``post`` with params, data, headers) over httpx."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> httpx.Response:
        return self._client.get(url, params=params, headers=headers)

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **_: Any
    ) -> httpx.Response:
        if isinstance(data, str | bytes):
            return self._client.post(url, params=params, content=data, headers=headers)
        return self._client.post(url, params=params, data=data, headers=headers)

    def close(self) -> None:
        """The client belongs to the caller; msal must not close it."""


@dataclass(frozen=True)
class AccountStatus:
    """What `devmem m365 status` shows: who is signed in, with which scopes, where the cache is."""

    signed_in: bool
    username: str | None
    tenant: str | None
    scopes: list[str]
    cache: str
    authority: str


class M365Auth:
    """Sign in, hand out access tokens (silently refreshed), sign out."""

    def __init__(
        self, settings: M365Settings, http: httpx.Client, store: TokenStore | None = None
    ) -> None:
        self.settings = settings
        self.http = http
        self.store = store or TokenStore(settings.cache_path, encrypted=settings.encrypted_cache)
        self._msal: msal.PublicClientApplication | None = None

    def app(self) -> msal.PublicClientApplication:
        """The msal application (built on first need: building it fetches the tenant's metadata)."""
        if self._msal is None:
            if not self.settings.client_id:
                raise ConnectorAuthError(
                    "No Microsoft 365 app registration is configured.",
                    hint="Set DEVMEM_M365_CLIENT_ID to a public client app's id (see docs/accounts.md).",
                )
            host = urlparse(self.settings.authority).hostname or ""
            try:
                self._msal = msal.PublicClientApplication(
                    self.settings.client_id,
                    authority=self.settings.authority,
                    token_cache=self.store.cache,
                    http_client=MsalHttpClient(self.http),
                    # msal asks login.microsoftonline.com to vouch for unknown hosts; an
                    # explicitly configured authority is known to the user, so skip it.
                    instance_discovery=False if host not in WELL_KNOWN_AUTHORITY_HOSTS else None,
                )
            except (ValueError, httpx.HTTPError) as exc:
                raise ConnectorError(
                    f"Cannot reach the Microsoft sign-in service at {self.settings.authority}: {exc}",
                    hint="Check DEVMEM_M365_TENANT / DEVMEM_M365_AUTHORITY and the network.",
                ) from exc
        return self._msal

    # ---- sign-in -----------------------------------------------------------------------
    def login_device_code(self, show: Callable[[str], None]) -> AccountStatus:
        """Device-code flow: ``show`` gets the "open https://microsoft.com/devicelogin and
        enter the code …" message; returns when the user has signed in (or the code expired)."""
        app = self.app()
        flow = app.initiate_device_flow(scopes=list(self.settings.scopes))
        if "user_code" not in flow:
            raise ConnectorAuthError(
                f"Microsoft refused to start a device sign-in: {_describe(flow)}",
                hint="Check DEVMEM_M365_CLIENT_ID and that the app allows public client flows.",
            )
        show(str(flow["message"]))
        return self._finish(app.acquire_token_by_device_flow(flow))

    def login_browser(self, show: Callable[[str], None], timeout: int = 300) -> AccountStatus:
        """Auth code + PKCE in the local browser; msal listens on http://localhost:<port>."""
        app = self.app()
        result = app.acquire_token_interactive(
            list(self.settings.scopes),
            timeout=timeout,
            on_before_launching_ui=lambda **_: show(
                "A browser window opens for Microsoft sign-in (no browser here? use --device-code)."
            ),
        )
        return self._finish(result)

    def _finish(self, result: dict[str, Any] | None) -> AccountStatus:
        if not result or "access_token" not in result:
            raise ConnectorAuthError(
                f"Microsoft sign-in failed: {_describe(result)}",
                hint="Try again, or use `devmem m365 login --device-code`.",
            )
        return self.status()

    # ---- tokens ------------------------------------------------------------------------
    def access_token(self, force_refresh: bool = False) -> str:
        """A valid access token from the cache, refreshed silently with the refresh token."""
        if not self.store.accounts():
            raise ConnectorAuthError("Not signed in to Microsoft 365.", hint=LOGIN_HINT)
        app = self.app()
        accounts = app.get_accounts()
        result = app.acquire_token_silent_with_error(
            list(self.settings.scopes),
            account=accounts[0] if accounts else None,
            force_refresh=force_refresh,
        )
        if not result or "access_token" not in result:
            raise ConnectorAuthError(
                f"The Microsoft 365 sign-in has expired or was revoked ({_describe(result)}).",
                hint=LOGIN_HINT,
            )
        return str(result["access_token"])

    # ---- status / sign-out -------------------------------------------------------------
    def status(self) -> AccountStatus:
        """Signed-in account and scopes, read from the cache (no network, no tokens shown)."""
        accounts = self.store.accounts()
        first = accounts[0] if accounts else {}
        return AccountStatus(
            bool(accounts),
            first.get("username"),
            first.get("realm"),
            self.store.scopes() if accounts else [],
            self.store.describe(),
            self.settings.authority,
        )

    def logout(self) -> bool:
        self._msal = None
        return self.store.clear()


def _describe(result: dict[str, Any] | None) -> str:
    """An msal error, shortened to its code and first line (AADSTS…: message)."""
    if not result:
        return "no cached sign-in"
    text = str(result.get("error_description") or "").strip().splitlines()
    return (
        f"{result.get('error', 'error')}: {text[0]}"
        if text
        else str(result.get("error", "unknown error"))
    )
