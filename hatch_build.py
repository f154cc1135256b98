"""Hatchling build hook: build the web console into src/cove/console/static/ before packaging, so
every wheel and sdist carries the built page (the repository holds only its sources and lock file)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ConsoleBuildHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        if self.target_name == "wheel" and version == "editable":
            return  # an editable install serves whatever scripts/build_console.sh last built
        if not (root / "console" / "package.json").exists():
            return  # building from an sdist, which already carries the built page
        subprocess.run(["bash", str(root / "scripts" / "build_console.sh")], check=True)
