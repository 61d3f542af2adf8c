"""Microsoft 365 sign-in: msal itself runs the device-code and auth-code + PKCE flows against
the local identity platform; the token cache is owner-only; refresh and revocation."""

from __future__ import annotations

import html
import os
import re
import stat
import threading
import time
import webbrowser
from pathlib import Path

import httpx
import pytest
from fake_http import Certificates
from fake_microsoft import CLIENT_ID, USERNAME, FakeMicrosoft
from msal_extensions import FilePersistence

from connectors.m365.auth import M365Auth, M365Settings, OwnerOnlyFilePersistence, TokenStore
from core.errors import ConnectorAuthError


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_device_code_login_caches_tokens_owner_only(
    auth: M365Auth, ms: FakeMicrosoft, m365_settings: M365Settings
) -> None:
    shown: list[str] = []
    started = time.monotonic()
    status = auth.login_device_code(shown.append)  # the fake answers "authorization_pending" once
    assert time.monotonic() - started >= 0.9
    assert "https://microsoft.com/devicelogin" in shown[0]
    assert status.signed_in and status.username == USERNAME
    assert status.scopes == ["Calendars.Read", "Chat.Read", "Files.Read", "Mail.Read"]
    path = m365_settings.cache_path
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert "at-" not in repr(status) and "rt-" not in repr(status)  # status never shows tokens


def test_cache_file_is_made_0600_even_if_it_was_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    OwnerOnlyFilePersistence(str(path)).save('{"AccessToken": {}}')
    assert _mode(path) == 0o600 and path.read_text() == '{"AccessToken": {}}'
    assert [p.name for p in tmp_path.iterdir()] == ["cache.json"]  # no temporary file left


def test_browser_login_uses_auth_code_with_pkce(
    auth: M365Auth, ms: FakeMicrosoft, certs: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    def browser(url: str, *args: object, **kwargs: object) -> bool:
        """The user's browser: load the authorize page, submit its form_post to localhost."""

        def run() -> None:
            page = httpx.get(url, verify=certs.client_context()).text
            action = html.unescape(re.search(r'action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
            httpx.post(action, data=dict(re.findall(r'name="(\w+)" value="([^"]*)"', page)))

        threading.Thread(target=run, daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browser)
    status = auth.login_browser(lambda _: None, timeout=20)
    assert status.signed_in and status.username == USERNAME
    authorize = next(r for r in ms.server.requests if r.path.endswith("/authorize"))
    assert authorize.query["code_challenge_method"] == "S256"
    assert authorize.query["redirect_uri"].startswith("http://localhost:")


def test_silent_refresh_and_revoked_consent(signed_in: M365Auth, ms: FakeMicrosoft) -> None:
    first = signed_in.access_token()
    assert signed_in.access_token() == first  # from the cache, no network
    ms.expire_tokens()
    refreshed = signed_in.access_token(force_refresh=True)
    assert refreshed != first and refreshed in ms.access_tokens
    ms.revoke_consent()
    with pytest.raises(ConnectorAuthError, match="devmem m365 login") as caught:
        signed_in.access_token(force_refresh=True)
    assert "AADSTS65001" in str(caught.value)


def test_logout_removes_the_cache(signed_in: M365Auth, m365_settings: M365Settings) -> None:
    assert m365_settings.cache_path.exists()
    assert signed_in.logout() is True
    assert not m365_settings.cache_path.exists()
    assert signed_in.status().signed_in is False
    with pytest.raises(ConnectorAuthError, match="Not signed in"):
        signed_in.access_token()
    assert signed_in.logout() is False


def test_keyring_is_used_when_it_works_else_the_0600_file(tmp_path: Path) -> None:
    def no_keyring(location: str) -> FilePersistence:
        raise ImportError("No module named 'gi'")

    class FakeKeyring(FilePersistence):  # stands in for Keychain / DPAPI / libsecret
        is_encrypted = True

    assert TokenStore(tmp_path / "a.json", factory=no_keyring).kind == "file"
    assert TokenStore(tmp_path / "b.json", encrypted=False, factory=FakeKeyring).kind == "file"
    keyring = TokenStore(tmp_path / "c.json", factory=FakeKeyring)
    assert keyring.kind == "keyring" and "keyring" in keyring.describe()


def test_missing_app_registration_says_what_to_set(http: httpx.Client, tmp_path: Path) -> None:
    auth = M365Auth(
        M365Settings(
            "", "https://login.microsoftonline.com/organizations", cache_path=tmp_path / "c"
        ),
        http,
        TokenStore(tmp_path / "c", encrypted=False),
    )
    with pytest.raises(ConnectorAuthError, match="DEVMEM_M365_CLIENT_ID"):
        auth.login_device_code(print)


def test_settings_from_env(tmp_path: Path) -> None:
    s = M365Settings.from_env(
        {
            "DEVMEM_M365_CLIENT_ID": CLIENT_ID,
            "DEVMEM_M365_TENANT": "contoso.onmicrosoft.com",
            "DEVMEM_M365_TOKEN_CACHE": str(tmp_path / "t.json"),
            "DEVMEM_M365_KEYRING": "0",
        }
    )
    assert s.authority == "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    assert s.cache_path == tmp_path / "t.json" and s.encrypted_cache is False
    assert (
        "ChannelMessage.Read.All" in s.with_channels().scopes
        and "ChannelMessage.Read.All" not in s.scopes
    )
    override = M365Settings.from_env(
        {"DEVMEM_M365_AUTHORITY": "https://login.microsoftonline.us/gov/"}
    )
    assert override.authority == "https://login.microsoftonline.us/gov"
