"""What a starting server prints about the backend it serves, besides its addresses."""

from __future__ import annotations

from cove.schema.model import Schema


def served_notes(schema: Schema, data_option: str, region: str) -> list[str]:
    """Start-up lines on what a served backend needs from its developer: users to sign in with,
    handlers for its custom operations, settings the local pool does not serve. ``data_option`` is
    how `cove users` finds the same data (``--data-dir .cove``, ``--database-url URL``)."""
    from cove.schema.handlers import unhandled

    lines = []
    auth = schema.auth
    if auth is not None:
        login = "PHONE" if auth.login_with == ("phone_number",) else "EMAIL"
        group = f" [--group {auth.groups[0]}]" if auth.groups else ""
        lines.append(f"  Add users         cove users add {login} --password PASSWORD{group} "
                     f"{data_option} --region {region}")
        if auth.mfa_requested not in ("NONE", "OFF"):
            lines.append(f"  MFA               {auth.mfa_requested} in the outputs; not served locally (sign-in "
                         f"without a second factor)")
    if schema.authorization_modes.unserved:
        lines.append(f"  Not served        {', '.join(schema.authorization_modes.unserved)}: needs its issuer or "
                     f"authorizer; serve a Python schema with define_data(authorization_modes=...) for it")
    how = "--handlers MODULE gives it one" if schema.source_mis is not None else "it gets a .handler(function)"
    for op in unhandled(schema):
        lines.append(f"  No handler        {op.name} ({op.kind}): its calls answer an error until {how}")
    for sub in schema.subscriptions.values():
        if sub.subscribes_to:
            lines.append(f"  Subscription      {sub.name} follows {', '.join(sub.subscribes_to)}")
        else:
            lines.append(f"  Subscription      {sub.name} follows no mutation (set one with --handlers: "
                         f"subscriptions = {{...}})")
    return lines
