"""The `cove` command: its argument tree, and the commands that serve (sandbox, serve), generate and
seed. The commands that work on a database without serving it are in ``cove.commands``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _server_args(p: argparse.ArgumentParser, *, default_watch: bool) -> None:
    p.add_argument("schema", nargs="?", default=None,
                   help="a .py file or module:attribute defining `data = define_data(...)` "
                        "(default: the bundled example)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=20002, help="port to listen on (default 20002)")
    p.add_argument("--outputs", type=Path, default=Path("amplify_outputs.json"),
                   help="where to write amplify_outputs.json (default ./amplify_outputs.json)")
    p.add_argument("--data-dir", type=Path, default=Path(".cove"),
                   help="where data lives (default .cove/); with --database-url only the sandbox's TLS CA")
    p.add_argument("--database-url", default=None, metavar="URL",
                   help="keep everything in this database instead: postgresql://user@host:5432/db"
                        "[?schema=name&pool_size=N&statement_timeout=MS] (events then go through its "
                        "LISTEN/NOTIFY unless --broker-url says otherwise) or sqlite:///path/data.sqlite; default "
                        "SQLite in the data dir")
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
                        "postgresql://user@host/db (LISTEN/NOTIFY); default: the --database-url's PostgreSQL, "
                        "else in-process")
    p.add_argument("--realtime-limit", action="append", default=[], metavar="NAME=VALUE",
                   help="a real-time limit: connection_timeout_ms, keepalive_interval, max_subscriptions, "
                        "max_message_bytes, max_queue, max_queue_bytes, ping_interval, max_connections, "
                        "max_connections_per_address, init_timeout (repeatable)")
    p.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                   help="a request limit: max_cost, inline_cost, loop_read_seconds, max_depth, max_aliases, "
                        "max_root_fields, max_fields, max_field_repeats, max_body_bytes, request_timeout, "
                        "max_header_bytes, max_list_limit, default_list_limit, handler_timeout, handler_threads "
                        "(repeatable)")
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
                       help="start from an empty database: records, users, API and IAM keys and signing keys go "
                            "(with --database-url: Cove's tables in its schema are dropped)")
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
        database_url=args.database_url,
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


def _cmd_seed(args: argparse.Namespace) -> int:
    from cove.seed import SeedError, run_seed

    try:
        run_seed(args.file, args.outputs, args.data_dir, args.database_url)
    except SeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
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

    from cove.commands import accounts, data, migrate

    keys = data.add_key_parsers(sub)
    users, iam = accounts.add_parsers(sub)
    transfer = data.add_transfer_parsers(sub)
    seed = sub.add_parser("seed", help="run a Python seed file against a running sandbox")
    seed.add_argument("file", type=Path, help="a .py file that uses cove.generate_client() / cove.auth")
    seed.add_argument("--outputs", type=Path, default=Path("amplify_outputs.json"),
                      help="the running sandbox's outputs file (default ./amplify_outputs.json)")
    seed.add_argument("--data-dir", type=Path, default=Path(".cove"),
                      help="the sandbox's data dir, for the seed's temporary IAM credentials (default .cove/)")
    seed.add_argument("--database-url", default=None, metavar="URL",
                      help="the sandbox's --database-url, for the same credentials (instead of --data-dir)")
    seed.set_defaults(func=_cmd_seed)
    console = accounts.add_console_parser(sub)
    migration = migrate.add_parser(sub)

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
    for management in (keys, users, iam, migration):
        apply_environment(management, os.environ, only=["--data-dir", "--region", "--database-url"])
    for command in (*transfer, console, seed):  # their --data-dir never had a variable; the database's has
        apply_environment(command, os.environ, only=["--database-url"])
    return parser


# Commands that run or open the server's data need the `server` extra (the client alone does not).
_SERVER_COMMANDS = {"sandbox", "serve", "keys", "users", "iam", "migrate"}
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
    from cove.server.database import DatabaseError, scrub
    from cove.store.base import DatabaseUnavailable, DestructiveChange
    from cove.store.transfer import TransferError

    try:
        status = int(args.func(args))
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at interpreter exit
        return status
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (TransferError, DestructiveChange, DatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except DatabaseUnavailable as exc:  # the database went away while the command worked
        print(f"error: {scrub(str(exc), getattr(args, 'database_url', None))}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `cove generate sdl | head`: the reader left; end quietly, as other Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
