"""The `cove` command: sandbox, serve, keys, generate.

It is longer than 700 lines: one argparse tree and one short handler per command, which read best
side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cove.schema.model import Schema
    from cove.store.base import Backend, KeyStore
    from cove.store.identity_state import IdentityStore


def _server_args(p: argparse.ArgumentParser, *, default_watch: bool) -> None:
    p.add_argument("schema", nargs="?", default=None,
                   help="a .py file or module:attribute defining `data = define_data(...)` "
                        "(default: the bundled example)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=20002, help="port to listen on (default 20002)")
    p.add_argument("--outputs", type=Path, default=Path("amplify_outputs.json"),
                   help="where to write amplify_outputs.json (default ./amplify_outputs.json)")
    p.add_argument("--data-dir", type=Path, default=Path(".cove"), help="where data lives (default .cove/)")
    p.add_argument("--allow-destructive-changes", action="store_true",
                   help="apply schema changes that drop data (removed models or fields, changed types)")
    p.add_argument("--synchronous", choices=["NORMAL", "FULL"], default="NORMAL",
                   help="SQLite durability: NORMAL survives a process crash, FULL also a power cut")
    p.add_argument("--region", default="us-east-1", help="region written to the outputs file")
    p.add_argument("--tls", action="store_true",
                   help="serve HTTPS and WSS with a local CA kept in the data dir (the stock aws-amplify "
                        "client only opens wss:// for subscriptions)")
    p.add_argument("--broker-url", default=None,
                   help="fan subscription events out across server processes: redis://host:6379/0 or "
                        "postgresql://user@host/db (LISTEN/NOTIFY); default in-process")
    p.add_argument("--realtime-limit", action="append", default=[], metavar="NAME=VALUE",
                   help="a real-time limit: connection_timeout_ms, keepalive_interval, max_subscriptions, "
                        "max_message_bytes, max_queue, max_queue_bytes, ping_interval, max_connections, "
                        "max_connections_per_address, init_timeout (repeatable)")
    p.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                   help="a request limit: max_cost, inline_cost, max_depth, max_aliases, max_root_fields, "
                        "max_fields, max_field_repeats, max_body_bytes, request_timeout, max_header_bytes, "
                        "max_list_limit, default_list_limit, handler_timeout, handler_threads (repeatable)")
    p.add_argument("--handlers", default=None, metavar="MODULE",
                   help="a module or .py file with Python handlers for the custom queries and mutations (by "
                        "operation name), for a backend served from its amplify_outputs.json")
    p.add_argument("--auth-limit", action="append", default=[], metavar="NAME=VALUE",
                   help="a sign-in guard: sign_in_per_minute, sign_up_per_minute, code_requests_per_minute, "
                        "get_id_per_minute, password_failures, lockout_max_seconds, code_attempts, "
                        "codes_per_user_per_hour, max_tracked (repeatable; 0 turns a throttle off)")
    p.add_argument("--print-codes", action="store_true",
                   help="do not confirm sign-ups at once, and print each confirmation and password-reset "
                        "code when define_auth has no on_send_code hook and COVE_SMTP_HOST is unset")
    p.add_argument("--log-format", choices=["text", "json"], default="text",
                   help="logs as readable text, or one JSON object per line (default text)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info",
                   help="least severe log level to write; info includes the access log (default info)")
    p.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                   help="serve Prometheus metrics at http://METRICS_HOST:PORT/metrics, apart from the API "
                        "(with --workers N, worker i uses PORT+i; default off)")
    p.add_argument("--metrics-host", default="127.0.0.1", help="interface for --metrics-port (default 127.0.0.1)")
    p.add_argument("--forwarded-allow-ips", default=None, metavar="IPS",
                   help="comma-separated addresses or networks of reverse proxies whose X-Forwarded-For and "
                        "X-Forwarded-Proto are believed ('*' for any; default none)")
    p.add_argument("--shutdown-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="on SIGTERM, how long requests in flight may take to finish (default 30)")
    if default_watch:
        p.add_argument("--no-watch", action="store_true", help="do not reload when the schema file changes")
        p.add_argument("--reset", action="store_true",
                       help="delete every record before starting; users, groups and keys are kept")
        p.add_argument("--reset-all", action="store_true",
                       help="start from an empty data dir: records, users, API and IAM keys and signing keys go")
        p.add_argument("--typed-client", type=Path, default=None, metavar="PATH",
                       help="write a typed Python client module (like `cove generate client`) to PATH on "
                            "start and on every schema change, next to the outputs file (default: off)")
    else:
        p.add_argument("--workers", type=int, default=1, help="server processes sharing the port")
        p.add_argument("--console", action="store_true",
                       help="serve the web console at /console to administrators who sign in "
                            "(create one with `cove console create-admin`); off by default")
        p.add_argument("--public-url", default=None, help="GraphQL URL to write into the outputs file")


def _options(args: argparse.Namespace, *, sandbox: bool) -> object:
    from cove.identity.guard import AuthLimits
    from cove.server.limits import Limits
    from cove.server.realtime.settings import RealtimeLimits
    from cove.server.runner import ServerOptions

    if args.shutdown_timeout < 0:
        print("error: --shutdown-timeout must be 0 or more seconds", file=sys.stderr)
        raise SystemExit(2)
    try:
        RealtimeLimits.parse(args.realtime_limit)
        AuthLimits.parse(args.auth_limit)
        Limits.parse(args.limit)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return ServerOptions(
        schema=args.schema, host=args.host, port=args.port, outputs=args.outputs, data_dir=args.data_dir,
        allow_destructive=args.allow_destructive_changes, watch=sandbox and not args.no_watch,
        workers=getattr(args, "workers", 1), public_url=getattr(args, "public_url", None),
        synchronous=args.synchronous, region=args.region, tls=args.tls, broker_url=args.broker_url,
        realtime_limits=args.realtime_limit, print_codes=args.print_codes,
        typed_client=getattr(args, "typed_client", None),
        reset="all" if getattr(args, "reset_all", False) else "data" if getattr(args, "reset", False) else None,
        console="local" if sandbox else ("admin" if args.console else None), handlers=args.handlers,
        auth_limits=args.auth_limit, limits=args.limit,
        log_format=args.log_format, log_level=args.log_level,
        metrics_port=args.metrics_port, metrics_host=args.metrics_host,
        forwarded_allow_ips=args.forwarded_allow_ips, shutdown_timeout=args.shutdown_timeout,
        command="sandbox" if sandbox else "serve")


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from cove.server.runner import run_sandbox

    return run_sandbox(_options(args, sandbox=True))  # type: ignore[arg-type]


def _cmd_serve(args: argparse.Namespace) -> int:
    from cove.server.runner import run_serve

    return run_serve(_options(args, sandbox=False))  # type: ignore[arg-type]


def _parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text) * 86400
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"{text!r}: use a number of days, or e.g. 30s, 15m, 12h, 7d") from None


def _existing_data_dir(args: argparse.Namespace) -> Path | None:
    """The data dir a data command works on; None (after saying so) when it holds no data yet, so a
    command run in the wrong folder does not quietly start an empty one."""
    data_dir = Path(args.data_dir)
    if (data_dir / "data.sqlite").is_file() or args.create:
        return data_dir
    print(f"error: no Cove data in {data_dir}/ (no data.sqlite there). Run this in the folder you run "
          "`cove sandbox` in, point --data-dir at its data, or pass --create to start a new data dir.",
          file=sys.stderr)
    return None


def _cmd_keys(args: argparse.Namespace) -> int:
    data_dir = _existing_data_dir(args)
    if data_dir is None:
        return 2
    return int(_on_backend(data_dir, lambda backend: _keys(backend.keys, args)))


def _on_backend(data_dir: Path, work: Callable[[Backend], Awaitable[Any]], *, create: bool = True) -> Any:
    """``work(backend)`` on the data dir's backend, closed afterwards, in a loop of its own."""
    async def run() -> Any:
        from cove.store import open_backend

        backend = open_backend(data_dir, create=create)
        try:
            return await work(backend)
        finally:
            await backend.close()

    return asyncio.run(run())


async def _keys(keys: KeyStore, args: argparse.Namespace) -> int:
    if args.keys_command == "create":
        key = await keys.create_api_key(expires_at=time.time() + args.expires_in, description=args.description)
        print(key.key)
    elif args.keys_command == "list":
        now = time.time()
        for k in await keys.api_keys():
            state = "revoked" if k.revoked else ("expired" if k.expires_at <= now else "active")
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(k.expires_at))
            print(f"{k.key}\t{state}\texpires {expires}\t{k.description or ''}")
    elif args.keys_command == "revoke":
        if not await keys.revoke_api_key(args.key):
            print(f"error: no API key {args.key}", file=sys.stderr)
            return 1
        print(f"revoked {args.key}")
    elif args.keys_command == "rotate":
        return await _rotate_keys(keys, args)
    return 0


async def _rotate_keys(keys: KeyStore, args: argparse.Namespace) -> int:
    from cove.outputs import write_outputs
    from cove.server.api_key_lifetime import rotate_api_keys

    outputs = None
    if args.outputs is not None:  # read it first: a bad file changes nothing
        import orjson

        try:
            outputs = orjson.loads(Path(args.outputs).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            print(f"error: {args.outputs}: {exc}", file=sys.stderr)
            return 1
        if not isinstance(outputs, dict) or not isinstance(outputs.get("data"), dict):
            print(f"error: {args.outputs} has no data section: it is not an outputs file with a data API",
                  file=sys.stderr)
            return 1
    rotation = await rotate_api_keys(keys, lifetime=args.expires_in, grace=args.grace, description=args.description)
    print(rotation.new.key)
    for key in rotation.shortened:
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(key.expires_at))
        print(f"previous key {key.id} stays valid until {until}", file=sys.stderr)
    if outputs is not None:
        outputs["data"]["api_key"] = rotation.new.key
        write_outputs(args.outputs, outputs)
        print(f"wrote the new key to {args.outputs}", file=sys.stderr)
    return 0


async def _schema_and_backend(args: argparse.Namespace) -> tuple[Schema, Backend]:
    """The schema and the data dir's backend, migrated to it (new tables; destructive changes refused)."""
    from cove.schema.loader import SchemaSource
    from cove.store import open_backend

    schema = SchemaSource(args.schema).load().schema
    backend = open_backend(args.data_dir)
    try:
        await backend.migrator.apply_schema(schema)
    except BaseException:
        await backend.close()
        raise
    return schema, backend


def _cmd_export(args: argparse.Namespace) -> int:
    from cove.store.transfer import refuse_database_files, summary

    if not (Path(args.data_dir) / "data.sqlite").is_file():
        print(f"error: no database in {args.data_dir}", file=sys.stderr)
        return 1
    if args.out is not None:
        refuse_database_files(args.out, args.data_dir)
    counts = asyncio.run(_export(args))
    print(summary("exported", counts), file=sys.stderr)
    return 0


async def _export(args: argparse.Namespace) -> Counter[str]:
    from cove.store.transfer import export_records

    schema, backend = await _schema_and_backend(args)
    try:
        if args.out is None:
            return await export_records(backend, schema, sys.stdout.buffer, args.model)
        with open(args.out, "wb") as out:
            return await export_records(backend, schema, out, args.model)
    finally:
        await backend.close()


def _cmd_import(args: argparse.Namespace) -> int:
    from cove.store.transfer import summary

    if str(args.file) != "-" and not Path(args.file).is_file():
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 1
    counts = asyncio.run(_import(args))
    print(summary("imported", counts), file=sys.stderr)
    return 0


async def _import(args: argparse.Namespace) -> Counter[str]:
    import shutil
    import tempfile

    from cove.store.transfer import import_records

    schema, backend = await _schema_and_backend(args)
    try:
        if str(args.file) == "-":  # the file is read twice (check, then insert): spool stdin first
            with tempfile.NamedTemporaryFile(prefix="cove-import-", suffix=".jsonl") as spool:
                shutil.copyfileobj(sys.stdin.buffer, spool)
                spool.flush()
                return await import_records(backend, schema, Path(spool.name), label="stdin")
        return await import_records(backend, schema, Path(args.file))
    finally:
        await backend.close()


def _cmd_backup(args: argparse.Namespace) -> int:
    if not (Path(args.data_dir) / "data.sqlite").is_file():
        print(f"error: no database in {args.data_dir}", file=sys.stderr)
        return 1
    from cove.store.transfer import backup

    _on_backend(args.data_dir, lambda backend: backup(backend, args.data_dir, args.path), create=False)
    print(f"backed up {args.data_dir} to {args.path}", file=sys.stderr)
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    from cove.store.transfer import restore

    info = restore(args.path, args.data_dir, force=args.force)
    print(f"restored {args.data_dir} from {args.path} (taken {info.get('taken_at', '?')})", file=sys.stderr)
    return 0


def _cmd_seed(args: argparse.Namespace) -> int:
    from cove.seed import SeedError, run_seed

    try:
        run_seed(args.file, args.outputs, args.data_dir)
    except SeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _new_password(args: argparse.Namespace) -> str | None:
    """`--password`, a line of stdin (`--password-stdin`), or a prompt; None (after saying why) if none."""
    if args.password is not None:
        return str(args.password)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"Password for {args.login}: ")
        if getpass.getpass("Repeat it: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return None
    else:
        print("error: give the password with --password, --password-stdin, or run in a terminal to be asked",
              file=sys.stderr)
        return None
    if not password:
        print("error: the password is empty", file=sys.stderr)
        return None
    return password


async def _unknown_groups(store: IdentityStore, wanted: list[str]) -> str | None:
    """A message naming the groups of `wanted` the pool lacks and the ones it has, or None."""
    known = [g.name for g in await store.list_groups()]
    unknown = [g for g in wanted if g not in known]
    if not unknown:
        return None
    have = ", ".join(known) if known else "none (declare them with define_auth(groups=[...]))"
    return f"no group {', '.join(unknown)} in the user pool; its groups are: {have}"


def _cmd_users(args: argparse.Namespace) -> int:
    data_dir = _existing_data_dir(args)
    if data_dir is None:
        return 2
    return asyncio.run(_with_identity(data_dir, lambda store: _users(args, store, data_dir)))


async def _with_identity(data_dir: Path, command: Callable[[IdentityStore], Awaitable[int]]) -> int:
    """Run ``command`` on the data dir's identity state (the backend's), then close the backend."""
    from cove.store import open_backend

    backend = open_backend(data_dir)
    try:
        return await command(backend.identity)
    finally:
        await backend.close()


async def _users(args: argparse.Namespace, store: IdentityStore, data_dir: Path) -> int:
    from cove.identity.cognito_json import CognitoError
    from cove.identity.services import open_user_pool

    try:
        pool = await open_user_pool(store, args.region)
        if args.users_command == "add":
            problem = await _unknown_groups(store, args.group or [])
            if problem is not None:
                print(f"error: {problem}; no user was added", file=sys.stderr)
                return 1
            password = _new_password(args)
            if password is None:
                return 2
            attributes = dict(item.partition("=")[::2] for item in args.attribute or [])
            user = await pool.create_user(args.login, password, attributes, groups=args.group or [])
            print(f"{user.username}\t{user.email or user.phone_number}\tCONFIRMED"
                  + (f"\tgroups: {', '.join(args.group)}" if args.group else ""))
        elif args.users_command == "list":
            for u in await store.list_users():
                print(f"{u.username}\t{u.email or u.phone_number or ''}\t{u.status}"
                      + ("" if u.enabled else "\tdisabled") + (f"\tgroups: {', '.join(u.groups)}" if u.groups else ""))
        elif args.users_command == "delete":
            found = await store.find_user(args.login)
            if found is None or not await store.delete_user(found.username):
                print(f"error: no user {args.login}", file=sys.stderr)
                return 1
            print(f"deleted {args.login}")
        elif args.users_command == "add-to-group":
            found = await store.find_user(args.login)
            if found is None:
                print(f"error: no user {args.login}", file=sys.stderr)
                return 1
            problem = await _unknown_groups(store, [args.group])
            if problem is not None:
                print(f"error: {problem}", file=sys.stderr)
                return 1
            await pool.add_to_group(found.username, args.group)
            print(f"added {args.login} to {args.group}")
    except CognitoError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    return 0


def _cmd_iam(args: argparse.Namespace) -> int:
    data_dir = _existing_data_dir(args)
    if data_dir is None:
        return 2
    return asyncio.run(_with_identity(data_dir, lambda store: _iam(args, store)))


async def _iam(args: argparse.Namespace, store: IdentityStore) -> int:
    try:
        if args.iam_command == "create":
            key = await store.create_iam_key(args.description)
            print(f"AWS_ACCESS_KEY_ID={key.access_key_id}")
            print(f"AWS_SECRET_ACCESS_KEY={key.secret_access_key}")
        elif args.iam_command == "list":
            for k in await store.iam_keys():
                print(f"{k.access_key_id}\t{'revoked' if k.revoked else 'active'}\t{k.description or ''}")
        elif args.iam_command == "revoke":
            if not await store.revoke_iam_key(args.access_key_id):
                print(f"error: no IAM key {args.access_key_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.access_key_id}")
    finally:
        await store.close()
    return 0


def _cmd_console(args: argparse.Namespace) -> int:
    password = args.password if args.console_command == "create-admin" else None
    if args.console_command == "create-admin" and password is None:
        import getpass

        password = getpass.getpass(f"Password for {args.name}: ")
    return asyncio.run(_with_identity(Path(args.data_dir), lambda store: _console(args, store, password)))


async def _console(args: argparse.Namespace, store: IdentityStore, password: str | None) -> int:
    from cove.console import AdminStore

    admins = AdminStore(store)
    if args.console_command == "create-admin":
        assert password is not None
        try:
            await admins.set_admin(args.name, password)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"console admin {args.name} saved; sign in at /console of `cove serve --console`")
    elif args.console_command == "list-admins":
        for admin in await admins.admins():
            print(f"{admin.username}\tcreated {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(admin.created_at))}")
    elif args.console_command == "delete-admin":
        if not await admins.delete_admin(args.name):
            print(f"error: no console admin {args.name}", file=sys.stderr)
            return 1
        print(f"deleted console admin {args.name}")
    return 0


def _generate_client(args: argparse.Namespace) -> int:
    import orjson

    from cove.codegen import GenerationError, write_python_client

    if args.outputs is not None:
        if args.schema is not None:
            print("error: give either a schema or --outputs, not both", file=sys.stderr)
            return 2
        try:
            outputs = orjson.loads(Path(args.outputs).read_bytes())
        except orjson.JSONDecodeError as exc:
            print(f"error: {args.outputs} is not JSON: {exc}", file=sys.stderr)
            return 2
        data = outputs.get("data") if isinstance(outputs, dict) else None
        mis = data.get("model_introspection") if isinstance(data, dict) else None
        if not isinstance(mis, dict):
            print(f"error: {args.outputs} has no data.model_introspection: it is not the outputs file of "
                  "a backend with a data API", file=sys.stderr)
            return 2
        source = str(args.outputs)
    else:
        from cove.schema.loader import SchemaSource
        from cove.schema.mis import to_mis

        loaded = SchemaSource(args.schema)
        mis = to_mis(loaded.load().schema)
        source = loaded.spec
    try:
        changed = write_python_client(args.out, mis, source=source)
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{'wrote' if changed else 'up to date:'} {args.out}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from cove.schema.loader import SchemaSource

    if args.generate_command == "sdl":
        from cove.schema.sdl import to_sdl

        print(to_sdl(SchemaSource(args.schema).load().schema))
        return 0
    if args.generate_command == "client":
        return _generate_client(args)
    if args.generate_command == "outputs":
        from cove.outputs import build_outputs, write_outputs

        schema = SchemaSource(args.schema).load().schema
        write_outputs(args.out, build_outputs(schema, url=args.url, api_key=None))
        print(f"wrote {args.out}")
        return 0
    return 2


def _data_dir_args(p: argparse.ArgumentParser, *, repeated: bool = False) -> None:
    """--data-dir and --create of a data command; `repeated` on its subcommands, so both
    `cove users --data-dir D list` and `cove users list --data-dir D` work."""
    p.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS if repeated else Path(".cove"),
                   help="the data dir of the sandbox or server (default .cove/)")
    p.add_argument("--create", action="store_true", default=argparse.SUPPRESS if repeated else False,
                   help="start a new data dir if there is none (default: refuse)")


_SCHEMA_HELP = "a schema (.py file or module:attribute; default: the bundled example)"


def build_parser() -> argparse.ArgumentParser:
    from cove._version import __version__

    parser = argparse.ArgumentParser(prog="cove", description="An Amplify-style data backend you run yourself.")
    parser.add_argument("--version", action="version", version=f"cove {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sandbox = sub.add_parser("sandbox", help="serve a schema for development, reloading on change")
    _server_args(sandbox, default_watch=True)
    sandbox.set_defaults(func=_cmd_sandbox)

    serve = sub.add_parser("serve", help="serve a schema in production")
    _server_args(serve, default_watch=False)
    serve.set_defaults(func=_cmd_serve, no_watch=True)

    keys = sub.add_parser("keys", help="manage API keys")
    _data_dir_args(keys)
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    create = ksub.add_parser("create", help="create a key and print it")
    create.add_argument("--expires-in", type=_parse_duration, default=7 * 86400.0,
                        help="lifetime: days, or 30s/15m/12h/7d (default 7 days)")
    create.add_argument("--description", default=None, help="a note kept with the key, shown by `list`")
    ksub.add_parser("list", help="list keys with their state")
    revoke = ksub.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key", help="the key (da2-...) or its id")
    rotate = ksub.add_parser("rotate", help="create a new key and print it; older keys stay valid for a grace period")
    rotate.add_argument("--expires-in", type=_parse_duration, default=7 * 86400.0,
                        help="the new key's lifetime: days, or 30s/15m/12h/7d (default 7 days)")
    rotate.add_argument("--grace", type=_parse_duration, default=86400.0,
                        help="how long the older keys stay valid: days, or 30s/15m/12h/7d (default 1 day)")
    rotate.add_argument("--description", default=None, help="a note stored with the new key")
    rotate.add_argument("--outputs", type=Path, default=None, metavar="PATH",
                        help="also write the new key into this amplify_outputs.json")
    for command in ksub.choices.values():
        _data_dir_args(command, repeated=True)
    keys.set_defaults(func=_cmd_keys)

    users = sub.add_parser("users", help="manage the user pool's users")
    _data_dir_args(users)
    users.add_argument("--region", default=None,
                       help="the region of the user pool (default: the one the sandbox last ran with)")
    usub = users.add_subparsers(dest="users_command", required=True)
    uadd = usub.add_parser("add", help="add a confirmed user (for scripts and tests)")
    uadd.add_argument("login", help="email (or phone number) to sign in with")
    password = uadd.add_mutually_exclusive_group()
    password.add_argument("--password", default=None,
                          help="the password (visible in the process list; default: ask, or see --password-stdin)")
    password.add_argument("--password-stdin", action="store_true",
                          help="read the password from the first line of stdin")
    uadd.add_argument("--group", action="append", help="a group of define_auth(groups=...) (repeatable)")
    uadd.add_argument("--attribute", action="append", metavar="NAME=VALUE",
                      help="a standard or declared custom: attribute, set as an administrator (repeatable)")
    usub.add_parser("list", help="list users")
    udel = usub.add_parser("delete", help="delete a user")
    udel.add_argument("login", help="email, phone number or username")
    ugroup = usub.add_parser("add-to-group", help="add a user to a group")
    ugroup.add_argument("login", help="email, phone number or username")
    ugroup.add_argument("group", help="a group of define_auth(groups=...)")
    for command in usub.choices.values():
        _data_dir_args(command, repeated=True)
    users.set_defaults(func=_cmd_users)

    iam = sub.add_parser("iam", help="static IAM credentials for trusted back-end code (SigV4, full access)")
    _data_dir_args(iam)
    isub = iam.add_subparsers(dest="iam_command", required=True)
    icreate = isub.add_parser("create", help="create an access key pair and print it")
    icreate.add_argument("--description", default=None, help="a note kept with the key, shown by `list`")
    isub.add_parser("list", help="list access keys")
    irevoke = isub.add_parser("revoke", help="revoke an access key")
    irevoke.add_argument("access_key_id", help="the AWS_ACCESS_KEY_ID to revoke")
    for command in isub.choices.values():
        _data_dir_args(command, repeated=True)
    iam.set_defaults(func=_cmd_iam)

    data_help = "where data lives (default .cove/)"
    backup = sub.add_parser("backup", help="copy the data dir's database (data, users, keys) to one file, online")
    backup.add_argument("path", type=Path, help="the backup file to write (replaced atomically)")
    backup.add_argument("--data-dir", type=Path, default=Path(".cove"), help=data_help)
    backup.set_defaults(func=_cmd_backup)
    restore = sub.add_parser("restore", help="make a data dir what a backup holds (stop the server first)")
    restore.add_argument("path", type=Path, help="a file written by `cove backup`")
    restore.add_argument("--data-dir", type=Path, default=Path(".cove"), help=data_help)
    restore.add_argument("--force", action="store_true", help="replace the data dir's existing database")
    restore.set_defaults(func=_cmd_restore)
    export = sub.add_parser("export", help="write records as JSON lines (stdout, or --out)")
    export.add_argument("schema", nargs="?", default=None,
                        help="the schema (.py file or module:attribute; default: the bundled example)")
    export.add_argument("--model", action="append", default=None, metavar="M",
                        help="export only this model (repeatable; default: every model)")
    export.add_argument("--out", type=Path, default=None, metavar="PATH", help="write to PATH instead of stdout")
    export.add_argument("--data-dir", type=Path, default=Path(".cove"), help=data_help)
    export.set_defaults(func=_cmd_export)
    import_ = sub.add_parser("import", help="insert records from a JSON lines file: all of them or none")
    import_.add_argument("file", type=Path, help="a file written by `cove export` (- reads stdin)")
    import_.add_argument("schema", nargs="?", default=None,
                         help="the schema (.py file or module:attribute; default: the bundled example)")
    import_.add_argument("--data-dir", type=Path, default=Path(".cove"), help=data_help)
    import_.set_defaults(func=_cmd_import)
    seed = sub.add_parser("seed", help="run a Python seed file against a running sandbox")
    seed.add_argument("file", type=Path, help="a .py file that uses cove.generate_client() / cove.auth")
    seed.add_argument("--outputs", type=Path, default=Path("amplify_outputs.json"),
                      help="the running sandbox's outputs file (default ./amplify_outputs.json)")
    seed.add_argument("--data-dir", type=Path, default=Path(".cove"),
                      help="the sandbox's data dir, for the seed's temporary IAM credentials (default .cove/)")
    seed.set_defaults(func=_cmd_seed)
    console = sub.add_parser("console", help="administrators of the web console that `cove serve --console` serves")
    console.add_argument("--data-dir", type=Path, default=Path(".cove"),
                         help="the data dir of the server that serves the console (default .cove/)")
    csub = console.add_subparsers(dest="console_command", required=True)
    cadd = csub.add_parser("create-admin", help="create an administrator, or set an existing one's password")
    cadd.add_argument("name", help="the name to sign in with")
    cadd.add_argument("--password", default=None, help="at least 12 characters (default: prompt for it)")
    csub.add_parser("list-admins", help="list administrators")
    cdel = csub.add_parser("delete-admin", help="delete an administrator (their sessions end at once)")
    cdel.add_argument("name", help="the administrator's name")
    console.set_defaults(func=_cmd_console)

    generate = sub.add_parser("generate", help="generate artefacts from a schema")
    gsub = generate.add_subparsers(dest="generate_command", required=True)
    sdl = gsub.add_parser("sdl", help="print the GraphQL SDL in AppSync's dialect")
    sdl.add_argument("schema", nargs="?", default=None, help=_SCHEMA_HELP)
    client = gsub.add_parser("client", help="write a typed Python client module for a schema or an outputs file")
    client.add_argument("schema", nargs="?", default=None, help=_SCHEMA_HELP)
    client.add_argument("--outputs", type=Path, default=None, metavar="PATH",
                        help="an amplify_outputs.json (from any Amplify Gen 2 backend) instead of a schema")
    client.add_argument("--out", type=Path, default=Path("cove_client.py"), metavar="PATH",
                        help="the module to write (default ./cove_client.py)")
    outputs = gsub.add_parser("outputs", help="write amplify_outputs.json for a deployed URL")
    outputs.add_argument("schema", nargs="?", default=None, help=_SCHEMA_HELP)
    outputs.add_argument("--url", required=True, help="the deployed GraphQL URL, e.g. https://api.example.com/graphql")
    outputs.add_argument("--out", type=Path, default=Path("amplify_outputs.json"), metavar="PATH",
                         help="the file to write (default ./amplify_outputs.json)")
    generate.set_defaults(func=_cmd_generate)

    from cove.environment import apply_environment

    apply_environment(sandbox, os.environ)
    apply_environment(serve, os.environ)
    for management in (keys, users, iam):
        apply_environment(management, os.environ, only=["--data-dir", "--region"])
    return parser


# Commands that run or open the server's data need the `server` extra (the client alone does not).
_SERVER_COMMANDS = {"sandbox", "serve", "keys", "users", "iam"}
_SERVER_MODULES = ("uvicorn", "jwt", "cryptography", "argon2")


def _missing_server_modules() -> list[str]:
    import importlib.util

    return [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `cove` alone: say what it can do
        parser.print_help()
        return 0
    if args.command in _SERVER_COMMANDS and (missing := _missing_server_modules()):
        print(f"error: `cove {args.command}` needs Cove's server, which is not installed (missing: "
              f"{', '.join(missing)}).\nInstall the server extra the way you installed cove, e.g. "
              "pip install 'cove[server]' or pip install 'cove[server] @ git+<repository URL>'", file=sys.stderr)
        return 2
    from cove.environment import invalid_values

    for message in invalid_values(args):
        parser.error(message)
    from cove.schema.model import SchemaError
    from cove.store.base import DestructiveChange
    from cove.store.transfer import TransferError

    try:
        status = int(args.func(args))
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at interpreter exit
        return status
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (TransferError, DestructiveChange) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `cove generate sdl | head`: the reader left; end quietly, as other Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
