"""Shared pieces of the language-server tests: a git repository to edit, the real
`devmem-lsp` started over stdio by pytest-lsp with VS Code's client capabilities, and
helpers to drive it as an editor would."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path

SERVER = str(Path(sys.executable).with_name("devmem-lsp"))
TMP = Path(tempfile.mkdtemp(prefix="devmem-lsp-tests-"))
atexit.register(shutil.rmtree, TMP, ignore_errors=True)  # module-level: removed at exit
SERVER_ENV = {
    **os.environ,
    "DEVMEM_DB": str(TMP / "default.db"),  # never the user's store, even if a test forgets
    "DEVMEM_CACHE_DIR": str(Path(tempfile.gettempdir()) / "devmem-lsp-tests-cache"),
    "HF_HUB_OFFLINE": "1",
    "DEVMEM_LOG": "INFO",
}
SERVER_COMMAND = [SERVER, "--poll", "0.3"]

BILLING = '''"""Billing rules for the shop."""

TAX_RATE = 0.2


def apply_discount(total, percent):
    if percent > 100:
        raise ValueError("discount cannot exceed 100 percent")
    return total * (1 - percent / 100)


def refund(order, amount):
    # refunds go back to the original payment method
    if amount > order.paid:
        raise ValueError("refund larger than payment")
    return order.paid - amount


class Invoice:
    def __init__(self, lines):
        self.lines = lines

    def total(self):
        return sum(line.price for line in self.lines)
'''

ORDERS = """import json


def load_orders(path):
    with open(path) as fh:
        return json.load(fh)


def ship_order(order):
    order.status = "shipped"
    return order
"""


def make_repo(root: Path) -> Path:
    """A git repository ``shop`` with two source files and one commit."""
    repo = root / "shop"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "billing.py").write_text(BILLING)
    (repo / "src" / "orders.py").write_text(ORDERS)
    git = [
        "git",
        "-c",
        "user.name=Test",
        "-c",
        "user.email=test@example.com",
        "-c",
        "init.defaultBranch=main",
        "-c",
        "commit.gpgsign=false",
    ]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "initial"], cwd=repo, check=True)
    return repo


def head(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def uri_of(path: Path) -> str:
    return from_fs_path(str(path))


def rng(start_line: int, start_char: int, end_line: int, end_char: int) -> types.Range:
    return types.Range(
        start=types.Position(line=start_line, character=start_char),
        end=types.Position(line=end_line, character=end_char),
    )


def as_dict(value: Any) -> Any:
    """A command result as plain JSON (pygls hands back attrs objects for some shapes)."""
    if isinstance(value, dict):
        return {k: as_dict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_dict(v) for v in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: as_dict(v) for k, v in vars(value).items()}
    return value
