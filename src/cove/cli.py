"""The `cove` command: sandbox, serve, keys, generate."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


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
    p.add_argument("--print-codes", action="store_true",
                   help="do not confirm sign-ups at once: print each confirmation code instead (the sandbox "
                        "sends no email)")
    if default_watch:
        p.add_argument("--no-watch", action="store_true", help="do not reload when the schema file changes")
        p.add_argument("--typed-client", type=Path, default=None, metavar="PATH",
                       help="write a typed Python client module (like `cove generate client`) to PATH on "
                            "start and on every schema change, next to the outputs file (default: off)")
    else:
        p.add_argument("--workers", type=int, default=1, help="server processes sharing the port")
        p.add_argument("--public-url", default=None, help="GraphQL URL to write into the outputs file")


def _options(args: argparse.Namespace, *, sandbox: bool) -> object:
    from cove.server.limits import Limits
    from cove.server.realtime import RealtimeLimits
    from cove.server.runner import ServerOptions

    try:
        RealtimeLimits.parse(args.realtime_limit)
        Limits.parse(args.limit)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return ServerOptions(
        schema=args.schema, host=args.host, port=args.port, outputs=args.outputs, data_dir=args.data_dir,
        allow_destructive=args.allow_destructive_changes, watch=sandbox and not args.no_watch,
        workers=getattr(args, "workers", 1), public_url=getattr(args, "public_url", None),
        synchronous=args.synchronous, region=args.region, tls=args.tls, broker_url=args.broker_url,
        realtime_limits=args.realtime_limit, limits=args.limit, print_codes=args.print_codes,
        typed_client=getattr(args, "typed_client", None))


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


def _cmd_keys(args: argparse.Namespace) -> int:
    from cove.server.runner import open_store

    store = open_store(args.data_dir)
    try:
        if args.keys_command == "create":
            key = store.create_api_key(expires_at=time.time() + args.expires_in, description=args.description)
            print(key.key)
        elif args.keys_command == "list":
            now = time.time()
            for k in store.api_keys():
                state = "revoked" if k.revoked else ("expired" if k.expires_at <= now else "active")
                expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(k.expires_at))
                print(f"{k.key}\t{state}\texpires {expires}\t{k.description or ''}")
        elif args.keys_command == "revoke":
            if not store.revoke_api_key(args.key):
                print(f"error: no API key {args.key}", file=sys.stderr)
                return 1
            print(f"revoked {args.key}")
    finally:
        store.close()
    return 0


def _cmd_users(args: argparse.Namespace) -> int:
    from cove.identity.services import open_user_pool
    from cove.identity.user_pool import CognitoError

    store, pool = open_user_pool(args.data_dir, args.region)
    try:
        if args.users_command == "add":
            user = pool.create_user(args.login, args.password, groups=args.group or [])
            print(f"{user.username}\t{user.email or user.phone_number}\tCONFIRMED"
                  + (f"\tgroups: {', '.join(args.group)}" if args.group else ""))
        elif args.users_command == "list":
            for u in store.list_users():
                print(f"{u.username}\t{u.email or u.phone_number or ''}\t{u.status}"
                      + ("" if u.enabled else "\tdisabled") + (f"\tgroups: {', '.join(u.groups)}" if u.groups else ""))
        elif args.users_command == "delete":
            user = store.find_user(args.login)
            if user is None or not store.delete_user(user.username):
                print(f"error: no user {args.login}", file=sys.stderr)
                return 1
            print(f"deleted {args.login}")
        elif args.users_command == "add-to-group":
            user = store.find_user(args.login)
            if user is None:
                print(f"error: no user {args.login}", file=sys.stderr)
                return 1
            pool.add_to_group(user.username, args.group)
            print(f"added {args.login} to {args.group}")
    except CognitoError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def _cmd_iam(args: argparse.Namespace) -> int:
    from cove.identity.store import SQLiteIdentityStore

    store = SQLiteIdentityStore(Path(args.data_dir) / "data.sqlite")
    try:
        if args.iam_command == "create":
            key = store.create_iam_key(args.description)
            print(f"AWS_ACCESS_KEY_ID={key.access_key_id}")
            print(f"AWS_SECRET_ACCESS_KEY={key.secret_access_key}")
        elif args.iam_command == "list":
            for k in store.iam_keys():
                print(f"{k.access_key_id}\t{'revoked' if k.revoked else 'active'}\t{k.description or ''}")
        elif args.iam_command == "revoke":
            if not store.revoke_iam_key(args.access_key_id):
                print(f"error: no IAM key {args.access_key_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.access_key_id}")
    finally:
        store.close()
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cove", description="An Amplify-style data backend you run yourself.")
    sub = parser.add_subparsers(dest="command", required=True)

    sandbox = sub.add_parser("sandbox", help="serve a schema for development, reloading on change")
    _server_args(sandbox, default_watch=True)
    sandbox.set_defaults(func=_cmd_sandbox)

    serve = sub.add_parser("serve", help="serve a schema in production")
    _server_args(serve, default_watch=False)
    serve.set_defaults(func=_cmd_serve, no_watch=True)

    keys = sub.add_parser("keys", help="manage API keys")
    keys.add_argument("--data-dir", type=Path, default=Path(".cove"))
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    create = ksub.add_parser("create", help="create a key and print it")
    create.add_argument("--expires-in", type=_parse_duration, default=7 * 86400.0,
                        help="lifetime: days, or 30s/15m/12h/7d (default 7 days)")
    create.add_argument("--description", default=None)
    ksub.add_parser("list", help="list keys with their state")
    revoke = ksub.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key", help="the key (da2-...) or its id")
    keys.set_defaults(func=_cmd_keys)

    users = sub.add_parser("users", help="manage the user pool's users")
    users.add_argument("--data-dir", type=Path, default=Path(".cove"))
    users.add_argument("--region", default="us-east-1", help="the region the sandbox runs with (default us-east-1)")
    usub = users.add_subparsers(dest="users_command", required=True)
    uadd = usub.add_parser("add", help="add a confirmed user (for scripts and tests)")
    uadd.add_argument("login", help="email (or phone number) to sign in with")
    uadd.add_argument("--password", required=True)
    uadd.add_argument("--group", action="append", help="a group of define_auth(groups=...) (repeatable)")
    usub.add_parser("list", help="list users")
    udel = usub.add_parser("delete", help="delete a user")
    udel.add_argument("login", help="email, phone number or username")
    ugroup = usub.add_parser("add-to-group", help="add a user to a group")
    ugroup.add_argument("login")
    ugroup.add_argument("group")
    users.set_defaults(func=_cmd_users)

    iam = sub.add_parser("iam", help="static IAM credentials for trusted back-end code (SigV4, full access)")
    iam.add_argument("--data-dir", type=Path, default=Path(".cove"))
    isub = iam.add_subparsers(dest="iam_command", required=True)
    icreate = isub.add_parser("create", help="create an access key pair and print it")
    icreate.add_argument("--description", default=None)
    isub.add_parser("list", help="list access keys")
    irevoke = isub.add_parser("revoke", help="revoke an access key")
    irevoke.add_argument("access_key_id")
    iam.set_defaults(func=_cmd_iam)

    generate = sub.add_parser("generate", help="generate artefacts from a schema")
    gsub = generate.add_subparsers(dest="generate_command", required=True)
    sdl = gsub.add_parser("sdl", help="print the GraphQL SDL in AppSync's dialect")
    sdl.add_argument("schema", nargs="?", default=None)
    client = gsub.add_parser("client", help="write a typed Python client module for a schema or an outputs file")
    client.add_argument("schema", nargs="?", default=None,
                        help="a schema (.py file or module:attribute; default: the bundled example)")
    client.add_argument("--outputs", type=Path, default=None, metavar="PATH",
                        help="an amplify_outputs.json (from any Amplify Gen 2 backend) instead of a schema")
    client.add_argument("--out", type=Path, default=Path("cove_client.py"), metavar="PATH",
                        help="the module to write (default ./cove_client.py)")
    outputs = gsub.add_parser("outputs", help="write amplify_outputs.json for a deployed URL")
    outputs.add_argument("schema", nargs="?", default=None)
    outputs.add_argument("--url", required=True)
    outputs.add_argument("--out", type=Path, default=Path("amplify_outputs.json"))
    generate.set_defaults(func=_cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from cove.schema.dsl import SchemaError

    try:
        return int(args.func(args))
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
