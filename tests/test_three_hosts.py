"""Three `cove serve` processes that share nothing but one PostgreSQL schema (issue 11, point 7).

Each host has its own data dir, port and copy of the schema file; users, tokens, API keys, IAM keys and
events reach the others only through the database (and its LISTEN/NOTIFY, the default broker with a
database URL). Clients are spread across the hosts: sign up on one, use the token on another, refresh
on the third; a subscription on one sees mutations made on the others, once each, with aws-amplify and
with Cove's client; then one host is SIGKILLed in the middle of a write burst and restarted.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from authkit import PASSWORD, claims, idp, iam_admin, sign_in, user_credentials
from conftest import Sandbox, free_port, start_sandbox
from paths import TESTS
from pg_support import fresh_postgres_url
from realtime_support import Raw, create_todo, on_create

import cove
from cove.client import RealtimeOptions

SCHEMA = TESTS / "schemas" / "realtime_schema.py"  # Todo (API key or signed in), Note (owner), a user pool
CREATE = "mutation ($i: CreateTodoInput!) { createTodo(input: $i) { id content } }"
LIST = ("query ($f: ModelTodoFilterInput, $t: String) { listTodos(filter: $f, limit: 1000, nextToken: $t) "
        "{ items { id content } nextToken } }")
# The address a load balancer in front of the hosts would answer at: every host is told it (--public-url),
# so each writes the same outputs and issues tokens under the same issuer, as in production.
PUBLIC_BASE = "http://cove.example.test"
PUBLIC_URL = f"{PUBLIC_BASE}/graphql"
WRITERS_PER_HOST = 2
BURST_ACKS = 25  # acknowledged writes each writer makes before the kill, and each survivor after it


def tag() -> str:
    return "t" + uuid.uuid4().hex[:10]


@dataclass
class Cluster:
    """The three hosts and what it takes to start one again (its folder, port and the database)."""

    database_url: str
    root: Path
    hosts: list[Sandbox] = field(default_factory=list)

    def start(self, n: int, port: int | None = None) -> Sandbox:
        folder = self.root / f"host{n}"
        folder.mkdir(exist_ok=True)
        schema = folder / "schema.py"
        if not schema.exists():
            shutil.copy(SCHEMA, schema)  # each host deploys its own copy of the code
        host = start_sandbox(folder, schema, "--public-url", PUBLIC_URL, port=port or free_port(),
                             data_dir=folder / "data", command="serve", database_url=self.database_url)
        # A client of this host, as if the balancer had sent it here: the outputs with the host's own address
        # for every endpoint (the token issuer is a name, not an address: it stays the public one).
        outputs = json.loads(host.outputs_path.read_text())
        own = f"http://127.0.0.1:{host.port}"
        outputs["data"]["url"] = outputs["data"]["url"].replace(PUBLIC_BASE, own)
        for endpoint in ("user_pool_endpoint", "identity_pool_endpoint"):
            outputs["custom"]["cove"][endpoint] = outputs["custom"]["cove"][endpoint].replace(PUBLIC_BASE, own)
        host.outputs_path = folder / "direct_outputs.json"
        host.outputs_path.write_text(json.dumps(outputs))
        return host

    def stop(self) -> None:
        for host in self.hosts:
            host.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    found = Cluster(fresh_postgres_url("three"), tmp_path_factory.mktemp("three-hosts"))
    # Started at once: the first migration of the schema races on purpose (advisory lock, applied once).
    with ThreadPoolExecutor(3) as pool:
        starts = [pool.submit(found.start, n) for n in (1, 2, 3)]
    failed = [start.exception() for start in starts if start.exception() is not None]
    found.hosts = [start.result() for start in starts if start.exception() is None]
    if failed:
        found.stop()
        raise failed[0]  # type: ignore[misc]
    yield found
    found.stop()  # the hosts as the tests left them (one of them restarted)


def gql(host: Sandbox, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    body = host.gql(query, variables, **kw)
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def as_user(host: Sandbox, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return gql(host, query, variables, headers={"x-api-key": None, "authorization": token})


def cli(cluster: Cluster, *args: str) -> str:
    """A management command on the shared database (as an operator would run it from any machine)."""
    done = subprocess.run([sys.executable, "-m", "cove", *args[:1], "--database-url", cluster.database_url,
                           *args[1:]], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_until(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout}s")
        time.sleep(0.05)


def test_the_hosts_share_nothing_on_disk(cluster: Cluster) -> None:
    for host in cluster.hosts:
        assert not (host.data_dir / "data.sqlite").exists()
        assert not (host.data_dir / "keys").exists()  # JWT signing keys live in the database
        assert host.outputs["data"]["url"] == host.url  # the rewritten copy (Cluster.start)
        assert PUBLIC_URL in (host.data_dir.parent / "amplify_outputs.json").read_text()
    pools = {(host.outputs["auth"]["user_pool_id"], host.outputs["auth"]["identity_pool_id"]) for host in cluster.hosts}
    assert len(pools) == 1, pools  # one user pool and identity pool, whichever host wrote the outputs


def test_sign_up_on_one_use_on_another_refresh_on_the_third(cluster: Cluster) -> None:
    one, two, three = cluster.hosts
    email = f"ada-{uuid.uuid4().hex[:6]}@example.com"
    auth = one.outputs["auth"]
    # `cove serve` has no code delivery here, so an admin makes the user, on host 2 with IAM credentials
    # that `cove iam create` put in the database; the user signs in on host 1.
    admin = iam_admin(two)
    admin.admin_create_user(UserPoolId=auth["user_pool_id"], Username=email, MessageAction="SUPPRESS",
                            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}])
    admin.admin_set_user_password(UserPoolId=auth["user_pool_id"], Username=email, Password=PASSWORD, Permanent=True)
    tokens = sign_in(one, email)

    # The access token and the id token from host 1, on host 2.
    made = as_user(two, tokens["AccessToken"], "mutation { createNote(input: {body: \"from two\"}) { id owner } }")
    note = made["createNote"]
    listed = as_user(two, tokens["IdToken"], "{ listNotes { items { id } } }")["listNotes"]["items"]
    assert [item["id"] for item in listed] == [note["id"]]
    assert idp(two).get_user(AccessToken=tokens["AccessToken"])["Username"] == claims(tokens["AccessToken"])["username"]

    # A refresh on host 3 gives tokens every host accepts, for the same user.
    refreshed = idp(three).initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                                         AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    access = refreshed["AuthenticationResult"]["AccessToken"]
    assert claims(access)["sub"] == claims(tokens["AccessToken"])["sub"]
    for host in cluster.hosts:
        got = as_user(host, access, "query ($id: ID!) { getNote(id: $id) { id owner } }", {"id": note["id"]})
        assert got["getNote"] == note

    # One identity id for the user, whichever host the identity pool is asked on.
    identity_two, _ = user_credentials(two, tokens["IdToken"])
    identity_three, _ = user_credentials(three, refreshed["AuthenticationResult"]["IdToken"])
    assert identity_two == identity_three

    # Signing out everywhere (on host 1) ends the refresh token on the others.
    idp(one).global_sign_out(AccessToken=access)
    with pytest.raises(Exception, match="NotAuthorizedException"):
        idp(three).initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})


def test_wrong_passwords_spread_over_the_hosts_lock_the_login_on_all(cluster: Cluster) -> None:
    """The lockout counts in the database: five wrong passwords sent round the hosts (a balancer's
    way) lock the login everywhere, for a known login and an unknown one alike."""
    auth = cluster.hosts[0].outputs["auth"]
    known = f"grace-{uuid.uuid4().hex[:6]}@example.com"
    admin = iam_admin(cluster.hosts[0])
    admin.admin_create_user(UserPoolId=auth["user_pool_id"], Username=known, MessageAction="SUPPRESS",
                            UserAttributes=[{"Name": "email", "Value": known}, {"Name": "email_verified", "Value": "true"}])
    admin.admin_set_user_password(UserPoolId=auth["user_pool_id"], Username=known, Password=PASSWORD, Permanent=True)

    def attempt(host: Sandbox, login: str, password: str) -> str:
        try:
            idp(host).initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": login, "PASSWORD": password})
        except ClientError as exc:
            return str(exc.response["Error"]["Message"])
        return "signed in"

    for login in (known, f"nobody-{uuid.uuid4().hex[:6]}@example.com"):
        wrong = [attempt(cluster.hosts[i % 3], login, "Wr0ng-password") for i in range(5)]
        assert wrong == ["Incorrect username or password."] * 5
        # Each host saw at most two of the five; every one of them refuses even the right password now.
        assert [attempt(host, login, PASSWORD) for host in cluster.hosts] == ["Password attempts exceeded"] * 3
    time.sleep(1.1)   # the first lock lasts a second; then the right password signs in on any host
    assert attempt(cluster.hosts[1], known, PASSWORD) == "signed in"
    assert attempt(cluster.hosts[2], known, "Wr0ng-password") == "Incorrect username or password."   # forgotten


def test_codes_sent_per_hour_count_across_the_hosts(cluster: Cluster) -> None:
    """Ten codes an hour per user, whichever hosts the requests reach (here every send fails for
    want of a delivery hook, and is still counted: the limit stands before the send)."""
    auth = cluster.hosts[0].outputs["auth"]
    login = f"hopper-{uuid.uuid4().hex[:6]}@example.com"

    def forgot(host: Sandbox) -> str:
        try:
            idp(host).forgot_password(ClientId=auth["user_pool_client_id"], Username=login)
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "sent"

    answers = [forgot(cluster.hosts[i % 3]) for i in range(12)]
    assert answers == ["CodeDeliveryFailureException"] * 10 + ["LimitExceededException"] * 2, answers


def test_an_api_key_made_anywhere_works_everywhere(cluster: Cluster) -> None:
    for writer in cluster.hosts:
        for host in cluster.hosts:
            assert gql(host, "{ listTodos(limit: 1) { items { id } } }", api_key=writer.api_key)
    key = cli(cluster, "keys", "create").strip()
    assert key.startswith("da2-")
    for host in cluster.hosts:
        assert gql(host, "{ listTodos(limit: 1) { items { id } } }", api_key=key)
    cli(cluster, "keys", "revoke", key)
    for host in cluster.hosts:
        wait_until(lambda host=host: host.post("{ listTodos { items { id } } }", api_key=key).status_code == 401,
                   what=f"the revoked key refused on port {host.port}")
        assert gql(host, "{ listTodos(limit: 1) { items { id } } }")  # the others keep working


def test_a_subscription_on_one_host_sees_the_others_once(cluster: Cluster) -> None:
    one, two, three = cluster.hosts
    t = tag()
    conn = Raw(one)
    conn.init()
    conn.subscribe("s", on_create("id content"), {"filter": {"content": {"beginsWith": t}}})
    made = {gql(host, CREATE, {"i": {"content": f"{t} {host.port}"}})["createTodo"]["id"] for host in (two, three)}
    got = [conn.expect("data")["payload"]["data"]["onCreateTodo"]["id"] for _ in range(2)]
    assert sorted(got) == sorted(made)
    conn.nothing(1.5)  # exactly once: no copy arrives late
    conn.close()


def test_cove_clients_spread_over_the_hosts(cluster: Cluster) -> None:
    one, two, three = cluster.hosts
    t = tag()
    clients = [cove.generate_client(config=host.outputs_path) for host in cluster.hosts]
    try:
        with clients[0].models.Todo.on_create(filter={"content": {"beginsWith": t}}) as sub:
            made = {clients[i].models.Todo.create({"content": f"{t} {i}"}).data.id for i in (1, 2)}
            got = {sub.receive(timeout=15).id for _ in range(2)}
            assert got == made
            with pytest.raises(TimeoutError):
                sub.receive(timeout=1.5)
        listed = clients[2].models.Todo.list(filter={"content": {"beginsWith": t}})
        assert {item.id for item in listed.data} == made
    finally:
        for client in clients:
            client.close()


@pytest.mark.compat
def test_aws_amplify_clients_spread_over_the_hosts(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS / "compat"))  # the compat suite's driver of the stock client
    from test_amplify_js import AmplifyDriver, data_of, require_node_env, show

    node = require_node_env()
    drivers = [AmplifyDriver(node, host.outputs_path, lambda host=host: "".join(host.lines[-40:]))
               for host in cluster.hosts]
    try:
        t = tag()
        line = drivers[0].run("subscribe", **{"as": "s", "model": "Todo", "event": "onCreate",
                                              "filter": {"content": {"beginsWith": t}}})
        assert not line["result"].get("errors"), show(line)
        made = {data_of(drivers[i].run("create", model="Todo", input={"content": f"{t} {i}"}))["id"] for i in (1, 2)}
        line = drivers[0].run("events", **{"as": "s", "count": 2, "timeoutMs": 15000})
        assert {event["id"] for event in line["result"]["data"]} == made, show(line)
        line = drivers[0].run("events", **{"as": "s", "count": 0, "timeoutMs": 1500})
        assert line["result"]["data"] == [], show(line)  # once each
        drivers[0].run("unsubscribe", **{"as": "s"})
    finally:
        for driver in drivers:
            driver.close()


class Writer(threading.Thread):
    """Creates to-dos on one host back to back, recording what the host acknowledged and every error."""

    def __init__(self, host: Sandbox, t: str, name: str) -> None:
        super().__init__(daemon=True)
        self.host, self.t, self.label = host, t, name
        self.acknowledged: set[str] = set()
        self.errors: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            n = 0
            while not self.halt.is_set():
                n += 1
                try:
                    r = http.post(self.host.url, headers={"x-api-key": self.host.api_key},
                                  json={"query": CREATE, "variables": {"i": {"content": f"{self.t} {self.label} {n}"}}})
                    body = r.json()
                    if r.status_code != 200 or body.get("errors"):
                        self.errors.append(f"{r.status_code} {r.text}")
                        return
                    self.acknowledged.add(body["data"]["createTodo"]["id"])
                except (httpx.HTTPError, ValueError) as exc:  # the host went away: stop, as a client would
                    self.errors.append(repr(exc))
                    return


def all_todos(host: Sandbox, t: str) -> dict[str, str]:
    found: dict[str, str] = {}
    token = None
    while True:
        page = gql(host, LIST, {"f": {"content": {"beginsWith": t}}, "t": token})["listTodos"]
        found.update((item["id"], item["content"]) for item in page["items"])
        token = page["nextToken"]
        if token is None:
            return found


def test_sigkill_in_a_write_burst_loses_no_acknowledged_write(cluster: Cluster, request: pytest.FixtureRequest) -> None:
    one, two, victim = cluster.hosts
    t = tag()
    watcher = Raw(one)  # a subscriber on a survivor
    watcher.init()
    watcher.subscribe("w", on_create("id content"), {"filter": {"content": {"beginsWith": t}}})
    doomed = Raw(victim)  # subscribers on the host that dies: a raw socket, and Cove's client (it reconnects)
    doomed.init()
    doomed.subscribe("d", on_create("id content"), {"filter": {"content": {"beginsWith": t}}})
    resilient = cove.generate_client(config=victim.outputs_path)
    request.addfinalizer(resilient.close)
    resilient.realtime.options = RealtimeOptions(initial_backoff=0.2, max_backoff=1.0)  # retry soon, not in 30 s
    resumed = resilient.models.Todo.on_create(filter={"content": {"beginsWith": f"{t} resume"}})

    writers = {host.port: [Writer(host, t, f"h{n}w{w}") for w in range(WRITERS_PER_HOST)]
               for n, host in enumerate(cluster.hosts, 1)}
    survivors = writers[one.port] + writers[two.port]
    for writer in survivors + writers[victim.port]:
        writer.start()
    try:
        wait_until(lambda: all(len(w.acknowledged) >= BURST_ACKS for ws in writers.values() for w in ws),
                   what="every writer acknowledged")
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        before = {id(w): len(w.acknowledged) for w in survivors}
        wait_until(lambda: all(len(w.acknowledged) >= before[id(w)] + BURST_ACKS for w in survivors),
                   what="the survivors kept writing")
    finally:
        for ws in writers.values():
            for writer in ws:
                writer.halt.set()
                writer.join(30)

    assert all(not w.errors for w in survivors), [w.errors for w in survivors]
    assert all(w.errors for w in writers[victim.port])  # each of its clients saw it go
    stored = all_todos(one, t)
    acknowledged = {i for ws in writers.values() for w in ws for i in w.acknowledged}
    assert acknowledged <= set(stored), f"{len(acknowledged - set(stored))} acknowledged writes are missing"
    # Beyond the acknowledged ones, at most the write each of the victim's clients had in flight.
    assert len(set(stored) - acknowledged) <= WRITERS_PER_HOST

    # The survivor's subscriber saw every write the survivors made, once, and nothing that is not stored.
    seen: list[str] = []
    try:
        while True:
            seen.append(watcher.expect("data", timeout=3)["payload"]["data"]["onCreateTodo"]["id"])
    except TimeoutError:
        pass
    assert len(seen) == len(set(seen)), "an event arrived twice"
    assert {i for w in survivors for i in w.acknowledged} <= set(seen) <= set(stored)
    watcher.close()
    code, _ = doomed.closed(timeout=10)
    assert code != 1000  # not a clean close: the process died

    # The killed host starts again on its port, serves, and its subscribers can subscribe again.
    back = cluster.start(3, port=victim.port)
    cluster.hosts[2] = back
    assert set(all_todos(back, t)) == set(stored)
    again = Raw(back)
    again.init()
    again.subscribe("again", on_create("id content"), {"filter": {"content": {"beginsWith": t}}})
    late = gql(one, CREATE, {"i": {"content": f"{t} after the restart"}})["createTodo"]["id"]
    mine = gql(back, CREATE, {"i": {"content": f"{t} on the restarted host"}})["createTodo"]["id"]
    got = {again.expect("data")["payload"]["data"]["onCreateTodo"]["id"] for _ in range(2)}
    assert got == {late, mine}
    again.nothing(1.0)
    again.close()

    # Cove's client resubscribed by itself once the host was back: a write on another host reaches it.
    # (every field the client selects: an event carries only what its mutation selected, as on AppSync)
    assert_resumes(resumed, lambda n: create_todo(two, content=f"{t} resume {n}"))
    resumed.unsubscribe()


def assert_resumes(sub: Any, write: Any, timeout: float = 30.0) -> None:
    """Write until the subscription delivers one of the writes (events made while it was reconnecting are
    lost, as on AppSync); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n += 1
        write(n)
        try:
            sub.receive(timeout=1.0)
            return
        except TimeoutError:
            continue
    raise AssertionError(f"the subscription did not resume within {timeout}s")
