"""Microsoft Graph over httpx: bearer tokens with one silent refresh on 401, paging by
``@odata.nextLink``, delta rounds ending in ``@odata.deltaLink``, Graph's error shapes.

Throttling (429 / 503 with ``Retry-After``) is retried by the :class:`RetryingSession`
underneath. A 401 gets one forced token refresh; a second 401 (or a refresh that fails:
consent revoked, account disabled) is a :class:`ConnectorAuthError` telling the user to run
``devmem m365 login``. A 410 on a delta link means Graph forgot the round's state: the
caller starts a new round (:class:`DeltaExpired`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from connectors.http import RetryingSession
from core import ConnectorAuthError, ConnectorError

GRAPH_URL = "https://graph.microsoft.com/v1.0"


class TokenSource(Protocol):
    """Anything that hands out Graph access tokens (``M365Auth`` in the app)."""

    def access_token(self, force_refresh: bool = False) -> str: ...


class GraphError(ConnectorError):
    """Graph answered with an error the sync cannot work around."""

    def __init__(self, status: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class DeltaExpired(GraphError):
    """The delta/skip token is no longer valid (410 Gone / resyncRequired): start over."""


class MalformedResponse(ConnectorError):
    """Graph sent something that is not the JSON object it documents."""


@dataclass(frozen=True)
class GraphPage:
    """One page of a collection: its items, and where to go next."""

    items: list[Any]
    next_link: str | None
    delta_link: str | None


class GraphClient:
    """Authorised GET requests to Microsoft Graph."""

    def __init__(
        self, session: RetryingSession, tokens: TokenSource, base_url: str = GRAPH_URL
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")

    def url(self, path_or_url: str) -> str:
        return (
            path_or_url
            if path_or_url.startswith(("https://", "http://"))
            else self.base_url + path_or_url
        )

    def get(
        self,
        path_or_url: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self._authorised(
            "GET", self.url(path_or_url), params=params, headers=headers or {}
        )
        _raise_for(response)
        try:
            data = response.json()
        except ValueError:
            raise MalformedResponse(
                f"Graph sent a response that is not JSON ({_short(response.url)}).",
                hint="Items before it were kept; run the sync again later.",
            ) from None
        if not isinstance(data, dict):
            raise MalformedResponse(
                f"Graph sent a response that is not a JSON object ({_short(response.url)})."
            )
        return data

    def pages(
        self,
        path_or_url: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Iterator[GraphPage]:
        """Follow ``@odata.nextLink`` (which carries the query) until the last page."""
        url: str | None = path_or_url
        while url:
            data = self.get(url, params, headers)
            items = data.get("value")
            if not isinstance(items, list):
                raise MalformedResponse(
                    f"Graph sent a page without a value list ({_short(self.url(url))})."
                )
            next_link = _link(data, "@odata.nextLink")
            yield GraphPage(items, next_link, _link(data, "@odata.deltaLink"))
            url, params = next_link, None

    def download(self, url: str, *, limit: int, authorised: bool) -> bytes:
        """A file's bytes (at most ``limit``). Pre-authenticated download URLs get no token."""
        if authorised:
            response = self._authorised("GET", self.url(url), follow_redirects=True, headers={})
        else:
            response = self.session.get(url, follow_redirects=True)
        _raise_for(response)
        if len(response.content) > limit:
            raise GraphError(413, f"the file is larger than {limit:,} bytes")
        return response.content

    def _authorised(
        self, method: str, url: str, *, headers: dict[str, str], **kwargs: Any
    ) -> httpx.Response:
        response = self._send(method, url, headers, False, **kwargs)
        if response.status_code == 401:
            # An access token can expire or be revoked mid-sync: refresh once, silently.
            response.close()
            response = self._send(method, url, headers, True, **kwargs)
            if response.status_code == 401:
                raise ConnectorAuthError(
                    f"Microsoft Graph refused the refreshed sign-in ({_error(response)[1]}).",
                    hint="Run `devmem m365 login`.",
                )
        return response

    def _send(
        self, method: str, url: str, headers: dict[str, str], refresh: bool, **kwargs: Any
    ) -> httpx.Response:
        token = self.tokens.access_token(force_refresh=refresh)
        return self.session.request(
            method, url, headers={**headers, "Authorization": f"Bearer {token}"}, **kwargs
        )


def _raise_for(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    code, message = _error(response)
    where = _short(response.url)
    if status == 410 or code in ("resyncRequired", "SyncStateNotFound", "syncStateNotFound"):
        raise DeltaExpired(status, f"Graph no longer knows this sync state ({where}).")
    if status == 401:
        raise ConnectorAuthError(
            f"Microsoft Graph refused the sign-in ({message}).", hint="Run `devmem m365 login`."
        )
    if status == 403:
        raise GraphError(
            status,
            f"Microsoft Graph denied access to {where} ({code}: {message}).",
            hint="The sign-in lacks a permission, or the tenant does not allow it.",
        )
    if status == 404:
        raise GraphError(status, f"Microsoft Graph has no {where} ({code}).")
    raise GraphError(
        status,
        f"Microsoft Graph answered {status} for {where} ({code}: {message}).",
        hint="Try again later; the sync resumes where it stopped.",
    )


def _error(response: httpx.Response) -> tuple[str, str]:
    """Graph's ``{"error": {"code", "message"}}`` → (code, message)."""
    try:
        body = response.json()
    except ValueError:
        return str(response.status_code), response.reason_phrase
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("code") or response.status_code), str(err.get("message") or "")
    return str(response.status_code), response.reason_phrase


def _link(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _short(url: httpx.URL | str) -> str:
    """A URL without its query (skip/delta tokens are long and not for people)."""
    return str(url).split("?", 1)[0]
