"""The `cove` commands that work on a database without serving it (keys, users, iam, console,
backup, restore, export, import, migrate). They live here rather than in ``cli.py``, which keeps the
argument tree and the serving commands, so neither file grows past a readable size; each command
opens its database through ``cove.server.database`` like the server does."""
