"""`cove users`, `cove iam` and `cove console`: the user pool's users, IAM access keys and the web
console's administrators, on the data dir's SQLite database or the one ``--database-url`` names."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .common import database_args, existing_data, fail, opened

if TYPE_CHECKING:
    from cove.store.identity_state import IdentityStore


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> list[argparse.ArgumentParser]:
    """users and iam (console is added by ``add_console_parser``, where `cove --help` lists it)."""
    users = sub.add_parser("users", help="manage the user pool's users")
    database_args(users)
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
    usub.add_parser("rotate-signing-key",
                    help="sign new tokens with a new key; tokens signed before still verify until they expire")
    for command in usub.choices.values():
        database_args(command, repeated=True)
    users.set_defaults(func=cmd_users)

    iam = sub.add_parser("iam", help="static IAM credentials for trusted back-end code (SigV4, full access)")
    database_args(iam)
    isub = iam.add_subparsers(dest="iam_command", required=True)
    icreate = isub.add_parser("create", help="create an access key pair and print it")
    icreate.add_argument("--description", default=None, help="a note kept with the key, shown by `list`")
    isub.add_parser("list", help="list access keys")
    irevoke = isub.add_parser("revoke", help="revoke an access key")
    irevoke.add_argument("access_key_id", help="the AWS_ACCESS_KEY_ID to revoke")
    for command in isub.choices.values():
        database_args(command, repeated=True)
    iam.set_defaults(func=cmd_iam)
    return [users, iam]


def add_console_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    console = sub.add_parser("console", help="administrators of the web console that `cove serve --console` serves")
    database_args(console, create=False)
    csub = console.add_subparsers(dest="console_command", required=True)
    cadd = csub.add_parser("create-admin", help="create an administrator, or set an existing one's password")
    cadd.add_argument("name", help="the name to sign in with")
    cadd.add_argument("--password", default=None, help="at least 12 characters (default: prompt for it)")
    csub.add_parser("list-admins", help="list administrators")
    cdel = csub.add_parser("delete-admin", help="delete an administrator (their sessions end at once)")
    cdel.add_argument("name", help="the administrator's name")
    for command in csub.choices.values():
        database_args(command, repeated=True, create=False)
    console.set_defaults(func=cmd_console)
    return console


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


def cmd_users(args: argparse.Namespace) -> int:
    if not existing_data(args):
        return 2
    return asyncio.run(_with_identity(args, lambda store: _users(args, store)))


async def _with_identity(args: argparse.Namespace, command: Callable[[IdentityStore], Awaitable[int]]) -> int:
    """Run ``command`` on the command's identity state (its backend's), then close the backend."""
    backend = await opened(args)
    try:
        return await command(backend.identity)
    finally:
        await backend.close()


async def _users(args: argparse.Namespace, store: IdentityStore) -> int:
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
        elif args.users_command == "rotate-signing-key":
            from cove.identity.keys import RELOAD_EVERY, rotate_signing_key

            key = await rotate_signing_key(store)
            print(f"new signing key {key.kid}; running servers sign with it within {RELOAD_EVERY:g}s, and tokens "
                  "signed with the previous keys verify until they expire")
    except CognitoError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    return 0


def cmd_iam(args: argparse.Namespace) -> int:
    if not existing_data(args):
        return 2
    return asyncio.run(_with_identity(args, lambda store: _iam(args, store)))


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


def cmd_console(args: argparse.Namespace) -> int:
    password = args.password if args.console_command == "create-admin" else None
    if args.console_command == "create-admin" and password is None:
        import getpass

        password = getpass.getpass(f"Password for {args.name}: ")
    return asyncio.run(_with_identity(args, lambda store: _console(args, store, password)))


async def _console(args: argparse.Namespace, store: IdentityStore, password: str | None) -> int:
    from cove.console import AdminStore

    admins = AdminStore(store)
    if args.console_command == "create-admin":
        assert password is not None
        try:
            await admins.set_admin(args.name, password)
        except ValueError as exc:
            return fail(str(exc), 2)
        print(f"console admin {args.name} saved; sign in at /console of `cove serve --console`")
    elif args.console_command == "list-admins":
        for admin in await admins.admins():
            print(f"{admin.username}\tcreated {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(admin.created_at))}")
    elif args.console_command == "delete-admin":
        if not await admins.delete_admin(args.name):
            return fail(f"no console admin {args.name}")
        print(f"deleted console admin {args.name}")
    return 0
