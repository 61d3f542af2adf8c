"""What the network connectors share: a retrying HTTP session and sync progress.

:class:`RetryingSession` sends requests through an injected ``httpx.Client`` and retries
what a server asks to be retried: 429 / 503 (and other 5xx) with their ``Retry-After``,
connection errors with exponential backoff, and whatever a connector's ``throttle`` hook
recognises (GitHub's ``x-ratelimit-reset``). Every wait is reported through ``on_wait`` a
second at a time, so the progress bar can say "rate limited: waiting 12 s". A server that
asks for more than :attr:`RetryPolicy.max_wait` gets a :class:`ConnectorError` saying when
to try again rather than a sync that hangs for an hour.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.base import SyncContext
from core import ConnectorError

WaitCallback = Callable[[float, str], None]  # (seconds left, reason)
Throttle = Callable[[httpx.Response], float | None]  # seconds to wait, None: not a throttle


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``max_wait`` caps one wait; longer requests fail with a clear error."""

    attempts: int = 6
    backoff: float = 1.0  # first wait after an error that names no delay; doubles each time
    max_backoff: float = 60.0
    max_wait: float = 900.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _no_wait_report(_seconds: float, _reason: str) -> None:
    return None


class RetryingSession:
    """Send requests with retries, honouring the server's throttling, over an httpx client."""

    def __init__(
        self,
        client: httpx.Client,
        policy: RetryPolicy | None = None,
        *,
        throttle: Throttle | None = None,
        on_wait: WaitCallback = _no_wait_report,
        sleep: Callable[[float], None] = time.sleep,
        service_name: str = "the server",
    ) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self.throttle = throttle
        self.on_wait = on_wait
        self.sleep = sleep
        self.service_name = service_name

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, retried as the policy allows; the last response is returned as is
        (callers decide what a 4xx means), transport errors become ConnectorError."""
        for attempt in range(1, self.policy.attempts + 1):
            last = attempt == self.policy.attempts
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if last:
                    raise ConnectorError(
                        f"Cannot reach {self.service_name}: {exc}.",
                        hint="Check the network connection and try again.",
                    ) from exc
                self._wait(self._backoff(attempt), f"{type(exc).__name__}, retrying")
                continue
            delay = self._delay(response, attempt)
            if delay is None or last:
                return response
            response.close()
            reason = (
                "rate limited"
                if response.status_code in (403, 429)
                else f"HTTP {response.status_code}"
            )
            self._wait(delay, reason)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def _delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying ``response``, or None when it is final."""
        if self.throttle is not None:
            hinted = self.throttle(response)
            if hinted is not None:
                return hinted
        if response.status_code not in self.policy.retry_statuses:
            return None
        hinted = retry_after(response)
        return hinted if hinted is not None else self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.policy.max_backoff, self.policy.backoff * 2 ** (attempt - 1)))

    def _wait(self, seconds: float, reason: str) -> None:
        if seconds > self.policy.max_wait:
            resume = datetime.now(UTC).timestamp() + seconds
            at = datetime.fromtimestamp(resume, UTC).strftime("%H:%M UTC")
            raise ConnectorError(
                f"{self.service_name} asks to wait {math.ceil(seconds)} s ({reason}).",
                hint=f"Run the sync again after {at}; it resumes where it stopped.",
            )
        left = max(0.0, seconds)
        while left > 0:
            self.on_wait(left, reason)
            step = min(1.0, left)
            self.sleep(step)
            left -= step
        self.on_wait(0.0, reason)


class SyncProgress:
    """The progress of one sync: a stage, a running count, and throttling waits."""

    def __init__(self, ctx: SyncContext, stage: str = "starting") -> None:
        self.ctx = ctx
        self.stage = stage
        self.done = 0

    def begin(self, stage: str) -> None:
        self.stage = stage
        self.ctx.tick(stage, self.done)

    def advance(self, count: int = 1, message: str = "") -> None:
        self.done += count
        self.ctx.tick(self.stage, self.done, None, message)

    def on_wait(self, seconds: float, reason: str) -> None:
        """A :data:`WaitCallback`: "rate limited: waiting 12 s" in the progress bar."""
        message = f"{reason}: waiting {math.ceil(seconds)} s" if seconds > 0 else ""
        self.ctx.tick(self.stage, self.done, None, message)
