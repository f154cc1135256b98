"""Do unknown users answer as fast as known ones? (user enumeration by timing)

    .venv/bin/python bench/enumeration.py                 # print
    .venv/bin/python bench/enumeration.py --record        # also (re)write its section of results.md

Starts ``cove serve bench/auth_schema.py`` with the lockout and throttles off (``--auth-limit ...=0``,
so repeated wrong passwords keep costing a full check) and times, with boto3's cognito-idp client
over real sockets, each call for a signed-up user and for a login that does not exist, alternating
them, ``--rounds`` times: USER_PASSWORD_AUTH with a wrong password, USER_SRP_AUTH's first step and
both its steps with a wrong password, ConfirmForgotPassword with a wrong code (before any code was
sent), and ForgotPassword. Reported: the median of each, and unknown/known. The same calls are also timed in process (``UserPool.call``
on a fresh data directory, no HTTP), where the machine's noise is smaller.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shlex
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness  # noqa: E402  (bench/run.py: server process, results.md sections)

from cove.wire import srp  # noqa: E402

HEADING = "## User enumeration by timing"
PASSWORD = "Passw0rd!"
OFF = ["sign_in_per_minute", "sign_up_per_minute", "code_requests_per_minute", "password_failures",
       "codes_per_user_per_hour"]


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    try:
        call()
    except ClientError:
        pass
    return (time.perf_counter() - started) * 1000


def operations(call: Callable[[str, dict[str, Any]], Any], client_id: str,
               pool_id: str) -> dict[str, Callable[[str], Any]]:
    """The timed calls, each taking a login; ``call(operation, body)`` sends one and returns its
    answer (None for an error)."""
    a, A = srp.client_ephemeral()
    srp_a = format(A, "x")

    def srp_both_steps(login: str) -> Any:
        challenge = call("InitiateAuth", {"ClientId": client_id, "AuthFlow": "USER_SRP_AUTH",
                                          "AuthParameters": {"USERNAME": login, "SRP_A": srp_a}})
        params = challenge["ChallengeParameters"]
        pool, user_id = srp.pool_name(pool_id), params["USER_ID_FOR_SRP"]
        key = srp.client_session_key(a, A, int(params["SRP_B"], 16), params["SALT"], pool, user_id, "Wr0ng-passw0rd")
        stamp = srp.now_string()
        return call("RespondToAuthChallenge", {
            "ClientId": client_id, "ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": {
                "USERNAME": user_id, "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"], "TIMESTAMP": stamp,
                "PASSWORD_CLAIM_SIGNATURE": srp.signature(key, pool, user_id, params["SECRET_BLOCK"], stamp)}})

    return {
        "USER_PASSWORD_AUTH, wrong password": lambda login: call("InitiateAuth", {
            "ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": login, "PASSWORD": "Wr0ng-passw0rd"}}),
        "USER_SRP_AUTH, first step": lambda login: call("InitiateAuth", {
            "ClientId": client_id, "AuthFlow": "USER_SRP_AUTH", "AuthParameters": {"USERNAME": login, "SRP_A": srp_a}}),
        "USER_SRP_AUTH, both steps, wrong password": srp_both_steps,
        "ConfirmForgotPassword, wrong code (no code pending)": lambda login: call("ConfirmForgotPassword", {
            "ClientId": client_id, "Username": login, "ConfirmationCode": "000000", "Password": PASSWORD}),
        "ForgotPassword": lambda login: call("ForgotPassword", {"ClientId": client_id, "Username": login}),
    }


def alternate(calls: dict[str, Callable[[str], Any]], known: str, rounds: int) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for name, call in calls.items():
        timed(lambda: call(known))  # warm up (the decoy hash is made on first use)
        timed(lambda: call(f"warm-{uuid.uuid4().hex[:8]}@example.com"))
        samples: dict[str, list[float]] = {"known": [], "unknown": []}
        for _ in range(rounds):
            samples["known"].append(timed(lambda: call(known)))
            samples["unknown"].append(timed(lambda: call(f"n{uuid.uuid4().hex[:10]}@example.com")))
        out[name] = (statistics.median(samples["known"]), statistics.median(samples["unknown"]))
    return out


def measure_in_process(rounds: int) -> dict[str, tuple[float, float]]:
    from cove.identity.cognito_json import CognitoError
    from cove.identity.guard import AuthLimits
    from cove.identity.services import IdentityServices
    from cove.schema.model import AuthSettings, Schema
    from cove.store.sqlite.identity import SQLiteIdentityStore

    with tempfile.TemporaryDirectory() as tmp:
        loop = asyncio.new_event_loop()
        store = SQLiteIdentityStore(f"{tmp}/data.sqlite")
        services = loop.run_until_complete(IdentityServices.open(
            store, Schema(auth=AuthSettings()), region="us-east-1", base_url="http://localhost",
            limits=AuthLimits.parse([f"{n}=0" for n in OFF]), on_send_code=lambda *_: None))
        pool = services.user_pool
        assert pool is not None

        def call(operation: str, body: dict[str, Any]) -> Any:
            try:
                return loop.run_until_complete(pool.call(operation, body))
            except CognitoError:
                return None

        call("SignUp", {"ClientId": pool.client_id, "Username": "known@example.com", "Password": PASSWORD})
        try:
            return alternate(operations(call, pool.client_id, pool.pool_id), "known@example.com", rounds)
        finally:
            loop.run_until_complete(services.close())
            loop.close()


def measure(rounds: int) -> dict[str, tuple[float, float]]:
    port = harness.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "cove", "serve", str(harness.BENCH_DIR / "auth_schema.py"), "--port", str(port),
               "--data-dir", f"{tmp}/data", "--outputs", f"{tmp}/amplify_outputs.json"]
        for name in OFF:
            cmd += ["--auth-limit", f"{name}=0"]
        server = harness.Server(cmd, Path(tmp) / "server.log", ready_timeout=60)
        try:
            outputs = json.loads(Path(f"{tmp}/amplify_outputs.json").read_text())
            client_id = outputs["auth"]["user_pool_client_id"]
            idp = boto3.client("cognito-idp", region_name="us-east-1",
                               endpoint_url=outputs["custom"]["cove"]["user_pool_endpoint"],
                               config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
            known = "known@example.com"
            idp.sign_up(ClientId=client_id, Username=known, Password=PASSWORD)

            def call(operation: str, body: dict[str, Any]) -> Any:
                method = getattr(idp, "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_"))
                try:
                    return method(**body)
                except ClientError:
                    return None

            return alternate(operations(call, client_id, outputs["auth"]["user_pool_id"]), known, rounds)
        finally:
            server.stop()


def report(result: dict[str, tuple[float, float]], local: dict[str, tuple[float, float]],
           args: argparse.Namespace) -> str:
    info = harness.machine_info()
    command = " ".join([".venv/bin/python", "bench/enumeration.py", *map(shlex.quote, sys.argv[1:])])
    lines = [HEADING, "",
             f"Recorded {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} at {harness.git_revision()} with "
             f"`{command}`; {info.get('cpu', '')} ({info.get('nproc', '')} CPUs), Python {info.get('python', '')}.",
             "", f"Median milliseconds per call over {args.rounds} alternating rounds (boto3 over a real socket, "
                 "client and server sharing the CPUs):", "",
             "| call | known user | unknown user | unknown / known |", "|---|---:|---:|---:|"]
    for name, (known, unknown) in result.items():
        lines.append(f"| {name} | {known:.1f} | {unknown:.1f} | {unknown / known:.2f} |")
    lines += ["", "The same calls in process (`UserPool.call`, no HTTP):", "",
              "| call | known user | unknown user | unknown / known |", "|---|---:|---:|---:|"]
    for name, (known, unknown) in local.items():
        lines.append(f"| {name} | {known:.2f} | {unknown:.2f} | {unknown / known:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30, help="calls per user and operation (default 30)")
    ap.add_argument("--record", action="store_true", help="write this section of bench/results.md")
    args = ap.parse_args()
    section = report(measure(args.rounds), measure_in_process(args.rounds), args)
    print(section)
    if args.record:
        results = harness.RESULTS
        results.write_text(harness.replace_section(results.read_text(), HEADING, section))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
