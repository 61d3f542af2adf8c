"""`devmem m365 login | logout | status`: the Microsoft 365 sign-in for `devmem sync m365`."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Annotated

import httpx
import typer

from connectors.m365.auth import AccountStatus, M365Auth, M365Settings

from .common import console, errors, fail, print_json

app = typer.Typer(
    help="Sign in to Microsoft 365 (mail, calendar, Teams, OneDrive) for `devmem sync m365`.",
    no_args_is_help=True,
)


def _auth(client: httpx.Client, *, channels: bool = False) -> M365Auth:
    settings = M365Settings.from_env(os.environ)
    return M365Auth(settings.with_channels() if channels else settings, client)


def browser_likely(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """A local browser can open: not over SSH, and a desktop session (or macOS / Windows)."""
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return False
    return platform in ("darwin", "win32") or bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


@app.command()
def login(
    device_code: Annotated[
        bool,
        typer.Option(
            "--device-code", help="Sign in on another device with a code (works over SSH)."
        ),
    ] = False,
    browser: Annotated[
        bool,
        typer.Option("--browser", help="Sign in in this machine's browser (auth code + PKCE)."),
    ] = False,
    with_channels: Annotated[
        bool,
        typer.Option(
            "--with-channels",
            help="Also ask for Teams channel messages (ChannelMessage.Read.All; may need an admin).",
        ),
    ] = False,
) -> None:
    """Sign in; the token cache is kept owner-only (0600) or in the OS keyring.

    Without an option, the browser is used when one can open here, else the device code.
    """
    if device_code and browser:
        fail("Choose one of --device-code and --browser.", 2)
    use_browser = browser or (not device_code and browser_likely(os.environ))
    with errors(), httpx.Client(timeout=httpx.Timeout(60.0, connect=15.0)) as client:
        auth = _auth(client, channels=with_channels)
        show = lambda text: console.print(text, highlight=False, soft_wrap=True)  # noqa: E731
        status = auth.login_browser(show) if use_browser else auth.login_device_code(show)
    console.print(
        f"Signed in as [bold]{status.username or 'unknown'}[/]; token cache: {status.cache}",
        highlight=False,
    )


@app.command()
def logout() -> None:
    """Sign out: remove the cached tokens (file or keyring entry)."""
    with errors(), httpx.Client() as client:
        removed = _auth(client).logout()
    console.print(
        "Signed out; the token cache was removed."
        if removed
        else "Not signed in; nothing to remove."
    )


@app.command()
def status(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Who is signed in, with which scopes, and where the token cache is (never the tokens)."""
    with errors(), httpx.Client() as client:
        info = _auth(client).status()
    if json_out:
        print_json(info)
        return
    console.print(_describe(info), highlight=False, soft_wrap=True)


def _describe(info: AccountStatus) -> str:
    if not info.signed_in:
        return f"Not signed in to Microsoft 365 ({info.authority}). Run `devmem m365 login`."
    return "\n".join(
        [
            f"Signed in as {info.username} (tenant {info.tenant})",
            f"Scopes: {' '.join(info.scopes) or 'none cached'}",
            f"Authority: {info.authority}",
            f"Token cache: {info.cache}",
        ]
    )
