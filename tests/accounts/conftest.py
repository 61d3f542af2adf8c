"""Fixtures of the account connectors' tests: local fake GitHub and Microsoft servers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_github import FakeGitHub  # noqa: E402
from fake_http import Certificates, FakeServer, make_certificates  # noqa: E402
from fake_microsoft import CLIENT_ID, FakeMicrosoft  # noqa: E402

from connectors.m365.auth import M365Auth, M365Settings, TokenStore  # noqa: E402


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def ms(certs: Certificates) -> Iterator[FakeMicrosoft]:
    """Microsoft identity platform + Graph on https://127.0.0.1:<port> (certificate from a test CA)."""
    fake = FakeMicrosoft()
    with FakeServer(fake, certs.server_context()) as server:
        fake.url, fake.server = server.url, server
        yield fake


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    with FakeServer(fake) as server:
        fake.url, fake.server = server.url, server
        yield fake


@pytest.fixture
def http(certs: Certificates) -> Iterator[httpx.Client]:
    """The client the connectors get injected: it trusts the test CA, nothing else changes."""
    with httpx.Client(verify=certs.client_context(), timeout=10) as client:
        yield client


@pytest.fixture
def m365_settings(ms: FakeMicrosoft, tmp_path: Path) -> M365Settings:
    return M365Settings(
        client_id=CLIENT_ID,
        authority=f"{ms.url}/contoso",
        cache_path=tmp_path / "m365" / "m365_token_cache.json",
        encrypted_cache=False,
    )


@pytest.fixture
def auth(m365_settings: M365Settings, http: httpx.Client) -> M365Auth:
    return M365Auth(m365_settings, http, TokenStore(m365_settings.cache_path, encrypted=False))


@pytest.fixture
def signed_in(auth: M365Auth, ms: FakeMicrosoft) -> M365Auth:
    """Signed in with the device-code flow (the "user" approves as soon as the code shows)."""
    auth.login_device_code(
        lambda message: ms.approve(message.split("enter the code ")[1].split()[0])
    )
    return auth
