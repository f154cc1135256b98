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
    if default_watch:
        p.add_argument("--no-watch", action="store_true", help="do not reload when the schema file changes")
    else:
        p.add_argument("--workers", type=int, default=1, help="server processes sharing the port")
        p.add_argument("--public-url", default=None, help="GraphQL URL to write into the outputs file")


def _options(args: argparse.Namespace, *, sandbox: bool) -> object:
    from cove.server.runner import ServerOptions

    return ServerOptions(
        schema=args.schema, host=args.host, port=args.port, outputs=args.outputs, data_dir=args.data_dir,
        allow_destructive=args.allow_destructive_changes, watch=sandbox and not args.no_watch,
        workers=getattr(args, "workers", 1), public_url=getattr(args, "public_url", None),
        synchronous=args.synchronous, region=args.region)


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


def _cmd_generate(args: argparse.Namespace) -> int:
    from cove.schema.loader import SchemaSource

    if args.generate_command == "sdl":
        from cove.schema.sdl import to_sdl

        print(to_sdl(SchemaSource(args.schema).load().schema))
        return 0
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

    generate = sub.add_parser("generate", help="generate artefacts from a schema")
    gsub = generate.add_subparsers(dest="generate_command", required=True)
    sdl = gsub.add_parser("sdl", help="print the GraphQL SDL in AppSync's dialect")
    sdl.add_argument("schema", nargs="?", default=None)
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
