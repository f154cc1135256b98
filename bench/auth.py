"""What authentication costs: per request in-process, and as HTTP throughput.

    .venv/bin/python bench/auth.py                    # both parts
    .venv/bin/python bench/auth.py --record           # also (re)write the "Authentication" section of results.md

1. In-process: ``Authenticator.authenticate`` for an API key, a user-pool JWT (first sight: RS256
   signature and claim checks; then from the verified-token cache), and SigV4 with identity-pool
   credentials (every request: the signature covers the body). Median of 7 rounds.
2. HTTP: ``cove serve bench/auth_schema.py``, 10,000 seeded Todos, then wrk runs the ``get`` workload of
   bench/run.py (aws-amplify's document and headers) alternately with ``x-api-key`` and with
   ``authorization: <access token>`` of a signed-in user (``user_pool`` mode), ``--rounds`` times each;
   the user_pool/api_key ratio of the medians is reported (the goal: user_pool within 15%). A third
   mode, ``api_key_padded``, adds a header as long as the token to the API-key request, as a control
   for the request size (wrk shares the machine's CPUs with the server).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness  # noqa: E402  (bench/run.py: the HTTP harness)

from cove.wire import sigv4  # noqa: E402
from cove.identity.services import IdentityServices  # noqa: E402
from cove.schema.loader import SchemaSource  # noqa: E402
from cove.server.authn import ApiKeyAuthenticator, Authenticator, IamVerifier  # noqa: E402
from cove.store import open_backend  # noqa: E402

BENCH = Path(__file__).resolve().parent
SCHEMA = BENCH / "auth_schema.py"
OUT = BENCH / "out" / "auth"
PASSWORD = "Bench-passw0rd"
HEADING = "## Authentication"


def _time_per_call(fn: Any, n: int) -> float:
    """Median microseconds per call over 7 rounds of n calls."""
    rounds = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(rounds)


def in_process() -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="cove-authbench-"))
    try:
        schema = SchemaSource(str(SCHEMA)).load().schema
        backend = open_backend(tmp)
        loop = asyncio.new_event_loop()
        loop.run_until_complete(backend.migrator.apply_schema(schema))
        key = loop.run_until_complete(backend.keys.create_api_key(expires_at=time.time() + 86400)).key
        ids = loop.run_until_complete(IdentityServices.open(backend.identity, schema,
                                                            region="us-east-1", base_url="http://127.0.0.1:1"))
        assert ids.user_pool is not None and ids.identity_pool is not None
        pool = ids.user_pool
        loop.run_until_complete(pool.create_user("bench@example.com", PASSWORD))
        signed_in = loop.run_until_complete(pool.call("InitiateAuth", {
            "ClientId": ids.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": "bench@example.com", "PASSWORD": PASSWORD}}))
        tokens = signed_in["AuthenticationResult"]
        iam = IamVerifier(region="us-east-1", issuer=ids.credentials, store=ids.store,
                          identity_pool_id=ids.identity_pool_id)
        authn = Authenticator(ApiKeyAuthenticator(backend.keys), user_pool=ids.tokens, iam=iam)
        body = json.dumps({"query": harness.DOCUMENTS["get"], "variables": {"id": "x"}}).encode()

        def run(headers: dict[str, str]) -> None:
            loop.run_until_complete(authn.authenticate(headers, body=body, path="/graphql"))

        access = tokens["AccessToken"]
        guest = loop.run_until_complete(ids.identity_pool.call("GetId", {"IdentityPoolId": ids.identity_pool_id}))
        creds = loop.run_until_complete(ids.identity_pool.call("GetCredentialsForIdentity",
                                                               {"IdentityId": guest["IdentityId"]}))["Credentials"]
        signed = {"content-type": "application/json; charset=UTF-8", "host": "127.0.0.1:1"}
        signed.update(sigv4.sign("POST", "http://127.0.0.1:1/graphql", signed, body, region="us-east-1",
                                 credentials=sigv4.Credentials(creds["AccessKeyId"], creds["SecretKey"],
                                                               creds["SessionToken"])))
        out = {
            "api_key": _time_per_call(lambda: run({"x-api-key": key}), 20_000),
            "user_pool_cached": _time_per_call(lambda: run({"authorization": access}), 20_000),
            "sigv4": _time_per_call(lambda: run(signed), 5_000),
        }

        def first_sight() -> None:  # a token the cache has not seen: full verification
            authn._verified.clear()
            run({"authorization": access})

        out["user_pool_first"] = _time_per_call(first_sight, 2_000)
        async def noop() -> None:
            return None

        out["loop_overhead"] = _time_per_call(lambda: loop.run_until_complete(noop()), 20_000)
        loop.run_until_complete(backend.close())   # closes the identity store too
        loop.close()
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def http(args: argparse.Namespace) -> dict[str, Any]:
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="cove-authbench-"))
    port = harness.free_port()
    outputs = tmp / "amplify_outputs.json"
    cmd = [sys.executable, "-m", "cove", "serve", str(SCHEMA), "--port", str(port), "--data-dir", str(tmp / "data"),
           "--outputs", str(outputs)]
    cpus = sorted(os.sched_getaffinity(0))
    pin = args.pin and len(cpus) >= 2
    if pin:  # the server on one CPU, wrk (started by this process) on another: neither steals from the other
        os.sched_setaffinity(0, {cpus[0]})
    server = harness.Server(cmd, OUT / "server.log", ready_timeout=60)
    if pin:
        os.sched_setaffinity(0, set(cpus[1:]))
    runs: dict[str, list[harness.Result]] = {"api_key": [], "user_pool": [], "api_key_padded": []}
    try:
        cfg = json.loads(outputs.read_text())
        url, api_key = cfg["data"]["url"], cfg["data"]["api_key"]
        ids = asyncio.run(harness.seed(url, api_key, args.seed_count, harness.SEED_CONCURRENCY))
        harness.preflight(url, api_key, ids, ["get"])
        auth = cfg["auth"]
        endpoint = cfg["custom"]["cove"]["user_pool_endpoint"]
        target = "AWSCognitoIdentityProviderService."
        common = {"content-type": "application/x-amz-json-1.1"}
        httpx.post(endpoint, headers={**common, "x-amz-target": target + "SignUp"}, json={
            "ClientId": auth["user_pool_client_id"], "Username": "bench@example.com", "Password": PASSWORD})
        r = httpx.post(endpoint, headers={**common, "x-amz-target": target + "InitiateAuth"}, json={
            "ClientId": auth["user_pool_client_id"], "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": "bench@example.com", "PASSWORD": PASSWORD}})
        access = r.json()["AuthenticationResult"]["AccessToken"]
        ids_file = OUT / "ids.txt"
        ids_file.write_text("".join(json.dumps(i) + "\n" for i in ids))
        seed = random.randrange(1, 1 << 30)
        api_script = harness.write_lua("get", api_key, ids_file, OUT, seed)
        pool_script = OUT / "get_user_pool.lua"
        text = api_script.read_text()
        line = re.search(r'^wrk\.headers\["x-api-key"\] = .*$', text, re.M)
        assert line is not None
        pool_script.write_text(text.replace(line.group(0), f'wrk.headers["authorization"] = {json.dumps(access)}'))
        # Control: the API-key request plus a header as long as the token (wrk shares the CPU, and a
        # 1 KB header costs both sides something whatever it holds).
        padded_script = OUT / "get_api_key_padded.lua"
        padded_script.write_text(text.replace(line.group(0), line.group(0) + "\n"
                                              + f'wrk.headers["x-padding"] = {json.dumps("p" * len(access))}'))
        check = httpx.post(url, headers={"authorization": access, "content-type": "application/json"},
                           json={"query": harness.DOCUMENTS["get"], "variables": {"id": ids[0]}})
        assert check.status_code == 200 and check.json()["data"]["getTodo"], check.text
        for i in range(args.rounds):
            for mode, script in (("api_key", api_script), ("user_pool", pool_script),
                                 ("api_key_padded", padded_script)):
                _, res = harness.run_wrk("get", url, script, args)
                runs[mode].append(res)
                print(f"   round {i + 1} {mode:9s} {res.rps:8,.0f} req/s  p50 {res.p50_ms:.2f} ms  "
                      f"p99 {res.p99_ms:.2f} ms  errors {res.errors}", flush=True)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        os.sched_setaffinity(0, set(cpus))
    return {"runs": runs, "problems": server.problems()}


def paired_ratio(runs: dict[str, list[harness.Result]], a: str, b: str) -> float:
    """Median over rounds of rps(a)/rps(b): runs of one round share the machine's load of the moment."""
    return statistics.median(x.rps / y.rps for x, y in zip(runs[a], runs[b], strict=True) if y.rps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs per mode (default 3)")
    ap.add_argument("--seed-count", type=int, default=harness.SEED_COUNT, help=argparse.SUPPRESS)
    ap.add_argument("--skip-http", action="store_true", help="only the in-process figures")
    ap.add_argument("--pin", action="store_true",
                    help="pin the server to the first CPU and wrk to the others (default: share all CPUs, as run.py)")
    ap.add_argument("--record", action="store_true", help="write the Authentication section of bench/results.md")
    ap.add_argument("--note", default=None, help="a sentence to add to the recorded section")
    args = ap.parse_args()

    micro = in_process()
    print("in-process authenticate() per request (median of 7 rounds):")
    for name, us in micro.items():
        print(f"   {name:18s} {us:8.1f} µs")
    result: dict[str, Any] | None = None
    invalid = False
    if not args.skip_http:
        if not shutil.which("wrk"):
            ap.error("wrk is not installed (apt-get install wrk)")
        result = http(args)
        invalid = any(not r.valid for rs in result["runs"].values() for r in rs) or bool(result["problems"])
        med = {m: statistics.median(r.rps for r in rs) for m, rs in result["runs"].items()}
        ratio = paired_ratio(result["runs"], "user_pool", "api_key")
        print(f"\nget, median of {args.rounds}: api_key {med['api_key']:,.0f} req/s, user_pool "
              f"{med['user_pool']:,.0f} req/s; per-round user_pool/api_key ratio, median {ratio:.1%} "
              f"({'within' if ratio >= 0.85 else 'NOT within'} 15%); api_key with a token-sized header "
              f"{med['api_key_padded']:,.0f} req/s (user_pool/api_key_padded per round, median "
              f"{paired_ratio(result['runs'], 'user_pool', 'api_key_padded'):.1%})")
        if invalid:
            print("!! INVALID RUN: errors in a wrk run or in the server log (bench/out/auth/)")
    if args.record:
        record(micro, result, args)
    return 1 if invalid else 0


def record(micro: dict[str, float], result: dict[str, Any] | None, args: argparse.Namespace) -> None:
    info = harness.machine_info()
    shown = [a for i, a in enumerate(sys.argv[1:]) if a != "--note" and (i == 0 or sys.argv[i] != "--note")]
    command = " ".join([".venv/bin/python", "bench/auth.py", *map(shlex.quote, shown)])
    lines = [HEADING, "",
             f"Recorded {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} at {harness.git_revision()} with "
             f"`{command}`; {info.get('cpu', '')} ({info.get('nproc', '')} CPUs), Python {info.get('python', '')}, {info.get('wrk', '')}.",
             "", "Cost of `Authenticator.authenticate` per request, in process (median of 7 rounds; includes "
             f"~{micro['loop_overhead']:.1f} µs of event-loop overhead per call):", "",
             "| credentials | µs per request |", "|---|---:|",
             f"| API key (`x-api-key`, cached lookup) | {micro['api_key']:.1f} |",
             f"| user pool JWT, cached (a token seen before) | {micro['user_pool_cached']:.1f} |",
             f"| user pool JWT, first sight (RS256 verify + claims) | {micro['user_pool_first']:.1f} |",
             f"| SigV4, identity-pool credentials (every request) | {micro['sigv4']:.1f} |", ""]
    if result is not None:
        runs = result["runs"]
        med = {m: statistics.median(r.rps for r in rs) for m, rs in runs.items()}
        ratio = paired_ratio(runs, "user_pool", "api_key")
        lines += [f"HTTP throughput, `get` workload of bench/run.py (`cove serve bench/auth_schema.py`, "
                  f"{args.seed_count:,} Todos, wrk -t{args.threads} -c{args.connections} -d{args.duration}s"
                  f"{', server pinned to one CPU and wrk to the other' if args.pin else ', server and wrk sharing the CPUs'}, "
                  f"{args.rounds} alternating rounds per mode):", "",
                  "| mode | req/s (each round) | median req/s | median p99 ms |", "|---|---|---:|---:|"]
        for mode, rs in runs.items():
            lines.append(f"| {mode} | {', '.join(f'{r.rps:,.0f}' for r in rs)} | {med[mode]:,.0f} | "
                         f"{statistics.median(r.p99_ms for r in rs):.2f} |")
        control = paired_ratio(runs, "user_pool", "api_key_padded")
        lines += ["", "Rounds run back to back (api_key, user_pool, api_key_padded), so each round's ratio compares "
                      "runs made under the same machine load; the medians of those ratios:", "",
                      f"user_pool throughput is {ratio:.1%} of api_key throughput "
                      f"({'within' if ratio >= 0.85 else 'NOT within'} the 15% goal), and {control:.1%} of "
                      f"api_key_padded (the API-key request plus an `x-padding` header as long as the "
                      f"access token), which shows how much of the gap is the size of the request (wrk building "
                      "and sending it, the server reading it) rather than checking the token."]
        if any(not r.valid for rs in runs.values() for r in rs) or result["problems"]:
            lines += ["", "**INVALID RUN**: errors occurred; see bench/out/auth/."]
    if args.note:
        lines += ["", args.note]
    section = "\n".join(lines) + "\n"
    text = harness.RESULTS.read_text() if harness.RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.M | re.S)
    text = pattern.sub(lambda _m: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    harness.RESULTS.write_text(text)
    print(f"\nwrote the '{HEADING[3:]}' section of {harness.RESULTS.relative_to(harness.REPO)}")


if __name__ == "__main__":
    raise SystemExit(main())
