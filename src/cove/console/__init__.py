"""Cove's web console: a page to browse and edit data, run GraphQL as any identity, manage users and
keys and watch events live. ``app.py`` serves it under ``/console``; ``access.py`` decides who may use
it; ``admin_api.py`` is its JSON API. The page's sources live in ``console/`` at the repository's top and
are built into ``static/`` (see scripts/build_console.sh)."""

from __future__ import annotations

from typing import Any

from .access import AdminStore
from .app import Console

__all__ = ["AdminStore", "Console", "attach_console"]


def attach_console(app: Any, policy: str | None) -> None:
    """Serve the console from ``app`` under a policy ("local", "admin"), or not at all (None); the
    admins are in the app's database (``app.backend.identity``)."""
    if policy is None:
        app.console = None
        return
    admins = AdminStore(app.backend.identity) if policy == "admin" else None
    app.console = Console(app, policy, admins)  # type: ignore[arg-type]
