"""The documented Neovim 0.7–0.10 recipe works in a real Neovim (issue 19 item 4).

Debian 12's Neovim is 0.7.2, where the 0.11 snippet fails (`vim.lsp.config` is nil). This
test takes the Lua block of docs/editors.md as it is, starts headless Neovim with it on a
file of a git repository, and asks the attached devmem-lsp for a hover, the code actions
of a selection and the code lenses, as the editor's own requests do. `.ci/run` installs
Debian's neovim package.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.embeddings import UnavailableEmbedder
from core.models import CodeAnchor, MemoryInput
from core.service import MemoryService

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

REPO = Path(__file__).resolve().parents[2]
RECIPE = re.compile(r"<!-- neovim-0\.7-recipe -->\s*```lua\n(.*?)```", re.S)
NVIM = shutil.which("nvim")

PROBE = r"""
local out = os.getenv('DEVMEM_NVIM_OUT')
local function devmem()
  for _, c in pairs(vim.lsp.get_active_clients()) do
    if c.name == 'devmem' then return c end
  end
end
local ready = vim.wait(60000, function()
  local c = devmem(); return c ~= nil and c.initialized == true
end, 50)
local result = { version = tostring(vim.version().major) .. '.' .. tostring(vim.version().minor),
                 attached = ready }
local function ask(method, params)
  local answers = vim.lsp.buf_request_sync(0, method, params, 30000) or {}
  for _, a in pairs(answers) do if a.result ~= nil then return a.result end end
end
if ready then
  vim.api.nvim_win_set_cursor(0, { 1, 6 })
  result.hover = ask('textDocument/hover', vim.lsp.util.make_position_params())
  local range = vim.lsp.util.make_given_range_params({ 1, 0 }, { 3, 0 })
  range.context = { diagnostics = {} }
  result.actions = ask('textDocument/codeAction', range)
  result.lenses = ask('textDocument/codeLens', { textDocument = vim.lsp.util.make_text_document_params() })
end
vim.fn.writefile({ vim.fn.json_encode(result) }, out)
vim.cmd('qa!')
"""


def _store(db: Path, project: str) -> None:
    svc = MemoryService.open(db, UnavailableEmbedder("the test needs no vectors"))
    try:
        svc.remember(
            MemoryInput(
                content="rotate_keys must finish before midnight UTC: the HSM batch window closes then.",
                kind="decision",
                project=project,
                anchor=CodeAnchor(path="app.py", start_line=1, end_line=3, symbol="rotate_keys"),
            )
        )
    finally:
        svc.close()


def _repo(root: Path) -> Path:
    repo = root / "vault"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "app.py").write_text(
        'def rotate_keys(store):\n    """Rotate the signing keys."""\n    return store.rotate()\n'
    )
    return repo


def test_the_documented_neovim_07_recipe_gives_hover_actions_and_lenses(tmp_path: Path) -> None:
    if NVIM is None:
        pytest.fail("nvim is missing: `apt-get install -y neovim` (.ci/run does)", pytrace=False)
    found = RECIPE.search((REPO / "docs" / "editors.md").read_text(encoding="utf-8"))
    assert found, "docs/editors.md lost its Neovim 0.7 recipe block"
    (tmp_path / "init.lua").write_text(found.group(1))
    (tmp_path / "probe.lua").write_text(PROBE)
    repo, db, out = _repo(tmp_path), tmp_path / "memories.db", tmp_path / "result.json"
    _store(db, "vault")
    env = {
        **os.environ,
        "DEVMEM_DB": str(db),
        "DEVMEM_EMBEDDINGS": "0",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "DEVMEM_NVIM_OUT": str(out),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    run = subprocess.run(
        [
            NVIM,
            "--headless",
            "-i",
            "NONE",
            "-u",
            str(tmp_path / "init.lua"),
            "app.py",
            "-c",
            f"luafile {tmp_path / 'probe.lua'}",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.exists(), f"nvim wrote nothing (exit {run.returncode}): {run.stderr[-2000:]}"
    result = json.loads(out.read_text())
    assert result["attached"], result
    assert "HSM batch window" in json.dumps(result["hover"]), result["hover"]
    titles = [a.get("title", "") for a in result["actions"] or []]
    assert any("Remember selection" in t for t in titles), titles
    lenses = result["lenses"] or []
    assert any(lens["range"]["start"]["line"] == 0 for lens in lenses), lenses
