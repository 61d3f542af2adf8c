"""The shared retrying session: Retry-After, backoff, caps, progress of waits."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from connectors.github import github_throttle
from connectors.http import RetryingSession, RetryPolicy, retry_after
from core.errors import ConnectorError


def _session(
    responses: list[httpx.Response | Exception], **kwargs: object
) -> tuple[RetryingSession, list[float], list[str]]:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    sleeps: list[float] = []
    waits: list[str] = []
    session = RetryingSession(
        httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=sleeps.append,
        on_wait=lambda s, why: waits.append(f"{why}: {s:g}"),
        **kwargs,
    )  # type: ignore[arg-type]
    return session, sleeps, waits


def test_429_retry_after_is_honoured_and_reported_each_second() -> None:
    session, sleeps, waits = _session(
        [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200)]
    )
    assert session.get("https://graph.test/x").status_code == 200
    assert sum(sleeps) == 3
    assert waits == ["rate limited: 3", "rate limited: 2", "rate limited: 1", "rate limited: 0"]


def test_503_without_header_backs_off_exponentially() -> None:
    session, sleeps, _ = _session(
        [httpx.Response(503), httpx.Response(503), httpx.Response(200)],
        policy=RetryPolicy(backoff=0.5),
    )
    assert session.get("https://graph.test/x").status_code == 200
    assert sum(sleeps) == pytest.approx(0.5 + 1.0)


def test_transport_errors_are_retried_then_reported() -> None:
    session, _, _ = _session([httpx.ConnectError("refused"), httpx.Response(200)])
    assert session.get("https://graph.test/x").status_code == 200
    failing, _, _ = _session(
        [httpx.ConnectError("refused")] * 2, policy=RetryPolicy(attempts=2, backoff=0.01)
    )
    with pytest.raises(ConnectorError, match="Cannot reach"):
        failing.get("https://graph.test/x")


def test_a_wait_above_the_cap_fails_with_when_to_retry() -> None:
    session, sleeps, _ = _session(
        [httpx.Response(429, headers={"Retry-After": "7200"})], policy=RetryPolicy(max_wait=60)
    )
    with pytest.raises(ConnectorError, match="asks to wait 7200 s") as caught:
        session.get("https://graph.test/x")
    assert "Run the sync again after" in str(caught.value)
    assert sleeps == []


def test_retries_stop_after_the_last_attempt() -> None:
    session, _, _ = _session(
        [httpx.Response(503)] * 3, policy=RetryPolicy(attempts=3, backoff=0.01)
    )
    assert session.get("https://graph.test/x").status_code == 503


def test_retry_after_as_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after(httpx.Response(429, headers={"Retry-After": when}))
    assert seconds is not None and 25 <= seconds <= 31
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None


def test_github_throttle_recognises_primary_and_secondary_limits() -> None:
    reset = str(int(time.time()) + 20)
    primary = httpx.Response(
        403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    )
    assert 19 <= (github_throttle(primary) or 0) <= 22
    assert github_throttle(httpx.Response(403, headers={"retry-after": "5"})) == 5
    secondary = httpx.Response(403, json={"message": "You have exceeded a secondary rate limit."})
    assert github_throttle(secondary) == 60
    forbidden = httpx.Response(
        403,
        json={"message": "Resource not accessible by integration"},
        headers={"x-ratelimit-remaining": "4999"},
    )
    assert github_throttle(forbidden) is None
    assert github_throttle(httpx.Response(200)) is None
