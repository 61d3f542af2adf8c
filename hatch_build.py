"""Build hook: the repository's `cli/` folder is installed as the `devmem_cli` package.

The wheel copies `cli/` to `devmem_cli/` (`force-include` in pyproject.toml), so the
distribution claims no generic `cli` top-level name. An editable install cannot rename a
folder (hatchling's path rewrites refuse it, see pfmoore/editables#20), so for that build
this hook installs a one-line `devmem_cli` package whose `__path__` is the live `cli/`
folder: edits show up at once, and the `devmem` console script resolves the same way in both.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SHIM = '''"""DevMemory CLI (editable install): this package is the repository's cli/ folder."""

__path__ = [{path!r}]
'''


class CliPackageHook(BuildHookInterface):  # type: ignore[misc]
    """Maps `cli/` to `devmem_cli` in editable installs (the wheel does it by force-include)."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version != "editable":
            return
        self._shim_dir = Path(tempfile.mkdtemp(prefix="devmem-cli-shim-"))
        shim = self._shim_dir / "__init__.py"
        shim.write_text(SHIM.format(path=str(Path(self.root, "cli").resolve())), encoding="utf-8")
        build_data["force_include_editable"][str(shim)] = "devmem_cli/__init__.py"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if version == "editable":
            shutil.rmtree(self._shim_dir, ignore_errors=True)
