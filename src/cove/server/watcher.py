"""The sandbox's schema watcher: reloads the served schema when one of its files changes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any


class SchemaWatcher(threading.Thread):
    """Polls the schema's files; polling is dependency-free and cheap for a handful of files.

    A change is a change of content: saving a file unchanged, or touching it, reloads nothing."""

    def __init__(self, files: Any, on_change: Any, interval: float = 0.3) -> None:
        super().__init__(daemon=True, name="cove-schema-watcher")
        self.files = files
        self.on_change = on_change
        self.interval = interval
        self.stopped = threading.Event()
        # The baseline is taken here, before the sandbox says Ready, not when the thread first runs:
        # an edit made right after Ready must count as a change.
        self.stamps = self._stamps()
        self.contents = self._contents(self.stamps)

    def _stamps(self) -> dict[Path, tuple[int, int]]:
        out = {}
        for p in self.files():
            try:
                st = p.stat()
            except OSError:
                continue
            out[p] = (st.st_mtime_ns, st.st_size)
        return out

    def _contents(self, paths: Any) -> dict[Path, bytes]:
        out = {}
        for p in paths:
            try:
                out[p] = p.read_bytes()
            except OSError:
                continue
        return out

    def run(self) -> None:
        stamps, contents = self.stamps, self.contents
        while not self.stopped.wait(self.interval):
            now = self._stamps()
            if now == stamps:
                continue
            stamps = now
            current = self._contents(now)
            # A file that joined the list (a module the last reload imported) is not itself a change.
            changed = any(content != contents[p] for p, content in current.items() if p in contents)
            contents = current
            if changed:
                self.on_change()
