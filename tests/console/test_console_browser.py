"""The console in a real browser: Playwright drives Debian's Chromium against a running sandbox (and a
`cove serve --console`), clicks through every part and checks what appears against the API.
Screenshots go to tests/artifacts/console/ (kept by CI)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import EXAMPLES, Sandbox, free_port, start_sandbox
from playwright.sync_api import Browser, Page, expect, sync_playwright
from paths import TESTS

SCHEMA = EXAMPLES / "console_schema.py"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = TESTS / "artifacts" / "console"
PASSWORD = "Passw0rd!long"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "the console's browser tests need Debian's chromium (apt-get install chromium)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                           "--disable-component-update", "--disable-sync"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    # --print-codes: sign-ups wait for their code, so the users page has someone to confirm.
    # --metrics-port: the health page shows the server's metrics (scrapers get them on that port).
    sandbox = start_sandbox(tmp_path_factory.mktemp("console-browser"), SCHEMA, "--no-watch", "--print-codes",
                            "--metrics-port", str(free_port()))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def page(browser: Browser, box: Sandbox, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 860})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, errors


def console_url(box: Sandbox, route: str = "") -> str:
    return f"http://127.0.0.1:{box.port}/console#/{route}"


def tasks(box: Sandbox, flt: dict[str, object] | None = None) -> list[dict[str, object]]:
    query = ("query($f: ModelTaskFilterInput) { listTasks(filter: $f, limit: 1000) { items { id title done estimate "
             "status tags place { city floor } projectId } } }")
    result = box.gql(query, {"f": flt})
    assert "errors" not in result, result
    return list(result["data"]["listTasks"]["items"])


def create(box: Sandbox, model: str, values: dict[str, object]) -> dict[str, object]:
    result = box.gql(f"mutation($i: Create{model}Input!) {{ create{model}(input: $i) {{ id }} }}", {"i": values})
    assert "errors" not in result, result
    return dict(result["data"][f"create{model}"])


def cove(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cove", *args], capture_output=True, text=True, timeout=60)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


# -- data -----------------------------------------------------------------------------------------------

def test_record_created_in_the_form_is_returned_by_the_api(page: Page, box: Sandbox) -> None:
    page.goto(console_url(box, "data/Task"))
    expect(page.get_by_test_id("model-Project")).to_be_visible()
    page.get_by_test_id("new-record").click()
    form = page.get_by_test_id("record-form")
    form.locator("input[name=title]").fill("Paint the fence")
    form.locator("input[name=estimate]").fill("three")
    form.get_by_test_id("save-record").click()
    # The server's validation message, shown at the field it is about; nothing was written.
    expect(form.get_by_test_id("error-estimate")).to_contain_text("Int")
    shot(page, "data-validation")
    assert tasks(box, {"title": {"eq": "Paint the fence"}}) == []
    form.locator("input[name=estimate]").fill("3")
    form.locator("select[name=status]").select_option("doing")
    form.locator("textarea[name=tags]").fill('["home", "weekend"]')
    form.locator("input[name=city]").fill("Lyon")
    form.locator("input[name=floor]").fill("2")
    form.get_by_test_id("save-record").click()
    expect(page.get_by_test_id("record-form")).to_have_count(0)
    row = page.get_by_test_id("records").locator("tr", has_text="Paint the fence")
    expect(row).to_contain_text("doing")
    (created,) = tasks(box, {"title": {"eq": "Paint the fence"}})
    assert created["estimate"] == 3 and created["status"] == "doing" and created["tags"] == ["home", "weekend"]
    assert created["place"] == {"city": "Lyon", "floor": 2}
    expect(page.get_by_test_id("count-Task")).to_have_text(str(len(tasks(box))))
    shot(page, "data")

    row.get_by_role("button", name="Edit").click()
    form = page.get_by_test_id("record-form")
    form.locator("input[name=title]").fill("Paint the gate")
    form.locator("select[name=done]").select_option("true")
    form.get_by_test_id("save-record").click()
    expect(page.get_by_test_id("records")).to_contain_text("Paint the gate")
    (edited,) = tasks(box, {"id": {"eq": created["id"]}})
    assert edited["title"] == "Paint the gate" and edited["done"] is True and edited["estimate"] == 3

    row = page.get_by_test_id("records").locator("tr", has_text="Paint the gate")
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Really delete").click()
    expect(page.get_by_test_id("records")).not_to_contain_text("Paint the gate")
    assert tasks(box, {"id": {"eq": created["id"]}}) == []


def test_required_field_message_at_the_field(page: Page, box: Sandbox) -> None:
    page.goto(console_url(box, "data/Project"))
    page.get_by_test_id("new-record").click()
    page.get_by_test_id("save-record").click()
    expect(page.get_by_test_id("error-name")).to_be_visible()
    expect(page.get_by_test_id("record-form")).to_be_visible()


def test_filters_from_the_schema_and_paging(page: Page, box: Sandbox) -> None:
    for i in range(23):
        create(box, "Task", {"title": f"bulk {i:02}", "estimate": 100 + i})
    page.goto(console_url(box, "data/Task"))
    page.get_by_test_id("add-filter").click()
    page.get_by_test_id("filter-field").select_option("estimate")
    operators = page.get_by_test_id("filter-operator").locator("option").all_inner_texts()
    assert {"eq", "ne", "gt", "ge", "lt", "le", "between", "attributeExists"} <= set(operators)
    assert "beginsWith" not in operators  # an Int field has ModelIntInput's operators only
    page.get_by_test_id("filter-operator").select_option("between")
    page.get_by_test_id("filter-value").fill("110, 114")
    page.get_by_test_id("apply-filter").click()
    rows = page.get_by_test_id("records").locator("tbody tr")
    expect(rows).to_have_count(5)
    expect(page.get_by_test_id("records")).to_contain_text("bulk 14")
    shot(page, "data-filter")
    # Paging through the rest with nextToken, 10 at a time.
    page.get_by_test_id("filters").get_by_title("remove").click()
    page.get_by_test_id("add-filter").click()
    page.get_by_test_id("filter-field").select_option("title")
    page.get_by_test_id("filter-operator").select_option("beginsWith")
    page.get_by_test_id("filter-value").fill("bulk")
    page.get_by_test_id("apply-filter").click()
    page.get_by_label("Page size").select_option("10")
    seen: set[str] = set()
    for number, expected in ((1, 10), (2, 10), (3, 3)):
        expect(page.get_by_test_id("page-number")).to_have_text(f"page {number}")
        expect(rows).to_have_count(expected)
        seen |= {text.split("\t")[1] for text in rows.all_inner_texts()}
        if expected == 10:
            page.get_by_test_id("next-page").click()
    assert seen == {f"bulk {i:02}" for i in range(23)}
    expect(page.get_by_test_id("next-page")).to_be_disabled()


def test_links_along_relationships_both_ways(page: Page, box: Sandbox) -> None:
    project = create(box, "Project", {"name": "Garden"})
    for title in ("dig", "plant"):
        create(box, "Task", {"title": title, "projectId": project["id"]})
    page.goto(console_url(box, "data/Project"))
    row = page.get_by_test_id("records").locator("tr", has_text="Garden")
    row.get_by_test_id("link-tasks").click()
    expect(page).to_have_url(re.compile(r"#/data/Task$"))
    rows = page.get_by_test_id("records").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("filter-value")).to_have_value(str(project["id"]))
    rows.filter(has_text="plant").get_by_role("button", name=re.compile("^Project")).click()
    expect(page).to_have_url(re.compile(r"#/data/Project$"))
    expect(page.get_by_test_id("records").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("records")).to_contain_text("Garden")


# -- GraphQL explorer with the identity picker ----------------------------------------------------------

def run_in_explorer(page: Page, query: str) -> None:
    page.locator(".graphiql-query-editor .CodeMirror").evaluate("(el, q) => el.CodeMirror.setValue(q)", query)
    page.wait_for_timeout(400)  # GraphiQL re-reads the operation names from the editor after a debounce
    page.locator(".graphiql-execute-button").click()


def test_identity_picker_shows_a_denial_for_a_user_without_the_group(page: Page, box: Sandbox) -> None:
    assert cove("users", "--data-dir", str(box.data_dir), "add", "staff@example.com", "--password", PASSWORD,
                "--group", "Staff").returncode == 0
    assert cove("users", "--data-dir", str(box.data_dir), "add", "boss@example.com", "--password", PASSWORD,
                "--group", "Admins").returncode == 0
    page.goto(console_url(box, "explorer"))
    expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
    page.get_by_test_id("identity-kind").select_option("user")
    page.get_by_test_id("identity-user").select_option("staff@example.com")
    run_in_explorer(page, "query Pay { listPayrolls { items { employee salary } } }")
    outcome = page.get_by_test_id("explorer-outcome")
    expect(outcome).to_contain_text("Denied")
    expect(outcome).to_contain_text("user staff@example.com")
    expect(outcome).to_contain_text("Unauthorized")
    expect(page.locator(".graphiql-response")).to_contain_text("Not Authorized to access listPayrolls")
    expect(page.get_by_test_id("explorer-rules")).to_have_text(
        "Payroll allows: groups Admins (userPools): create, update, delete, read")
    shot(page, "explorer-denied")
    page.get_by_test_id("identity-user").select_option("boss@example.com")
    run_in_explorer(page, "query Pay { listPayrolls { items { employee salary } } }")
    expect(outcome).to_contain_text("Allowed")
    expect(page.locator(".graphiql-response")).to_contain_text('"items": []')
    page.get_by_test_id("identity-kind").select_option("apiKey")
    run_in_explorer(page, "query Pay { listPayrolls { items { employee } } }")
    expect(outcome).to_contain_text("Denied")
    page.get_by_test_id("identity-kind").select_option("guest")
    run_in_explorer(page, "query Pay { listPayrolls { items { employee } } }")
    expect(outcome).to_contain_text("Denied for guest")
    page.get_by_test_id("identity-kind").select_option("iam")
    run_in_explorer(page, "query Pay { listPayrolls { items { employee } } }")
    expect(outcome).to_contain_text("Allowed for IAM")
    shot(page, "explorer")


def test_explorer_completes_and_documents_from_the_schema(page: Page, box: Sandbox) -> None:
    page.goto(console_url(box, "explorer"))
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    expect(editor).to_be_visible()
    page.get_by_role("button", name=re.compile("documentation", re.I)).first.click()
    docs = page.locator(".graphiql-doc-explorer")
    expect(docs).to_contain_text("Query")  # the schema has loaded
    docs.get_by_text("Query", exact=True).first.click()
    expect(docs).to_contain_text("listPayrolls")
    editor.evaluate("el => { el.CodeMirror.setValue('{ listPa'); el.CodeMirror.focus(); "
                    "el.CodeMirror.setCursor({line: 0, ch: 9}); }")
    page.keyboard.type("y")
    expect(page.locator(".CodeMirror-hints")).to_contain_text("listPayrolls")
    shot(page, "explorer-completion")


# -- users, groups and keys -----------------------------------------------------------------------------

def test_users_and_groups(page: Page, box: Sandbox) -> None:
    page.goto(console_url(box, "users"))
    form = page.get_by_test_id("create-user")
    form.locator("input[name=login]").fill("new.hire@example.com")
    form.locator("input[name=password]").fill(PASSWORD)
    form.get_by_label("Staff").check()
    form.get_by_role("button", name="Create user").click()
    row = page.locator("tr[data-login='new.hire@example.com']")
    expect(row).to_contain_text("CONFIRMED")
    expect(row.get_by_role("button", name="Staff")).to_have_class(re.compile(r"\bon\b"))
    listed = cove("users", "--data-dir", str(box.data_dir), "list").stdout
    assert re.search(r"new\.hire@example\.com\tCONFIRMED\tgroups: Staff", listed), listed
    row.get_by_role("button", name="Admins").click()
    expect(row.get_by_role("button", name="Admins")).to_have_class(re.compile(r"\bon\b"))
    row.get_by_role("button", name="Staff").click()
    expect(row.get_by_role("button", name="Staff")).not_to_have_class(re.compile(r"\bon\b"))
    assert "groups: Admins" in cove("users", "--data-dir", str(box.data_dir), "list").stdout
    row.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("no")
    assert "new.hire@example.com\tCONFIRMED\tdisabled" in cove("users", "--data-dir", str(box.data_dir), "list").stdout
    row.get_by_role("button", name="Enable").click()
    page.get_by_test_id("user-search").fill("new.hire")
    expect(page.get_by_test_id("users").locator("tbody tr")).to_have_count(1)
    shot(page, "users")
    # A duplicate gets Cognito's error, shown on the page.
    form.locator("input[name=login]").fill("new.hire@example.com")
    form.get_by_role("button", name="Create user").click()
    expect(page.get_by_test_id("users-error")).to_contain_text("UsernameExistsException")
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Really delete").click()
    expect(page.locator("tr[data-login='new.hire@example.com']")).to_have_count(0)
    assert "new.hire" not in cove("users", "--data-dir", str(box.data_dir), "list").stdout


def test_confirm_a_signed_up_user(page: Page, box: Sandbox) -> None:
    from authkit import auth_info, idp

    auth, _ = auth_info(box)
    idp(box).sign_up(ClientId=auth["user_pool_client_id"], Username="signup@example.com", Password=PASSWORD)
    assert "signup@example.com\tUNCONFIRMED" in cove("users", "--data-dir", str(box.data_dir), "list").stdout
    page.goto(console_url(box, "users"))
    row = page.locator("tr[data-login='signup@example.com']")
    expect(row).to_contain_text("UNCONFIRMED")
    row.get_by_role("button", name="Confirm").click()
    expect(row).not_to_contain_text("UNCONFIRMED")
    expect(row.get_by_role("button", name="Confirm")).to_have_count(0)
    assert "signup@example.com\tCONFIRMED" in cove("users", "--data-dir", str(box.data_dir), "list").stdout


def test_api_keys(page: Page, box: Sandbox) -> None:
    page.goto(console_url(box, "keys"))
    form = page.get_by_test_id("create-key")
    form.get_by_placeholder("description").fill("mobile app")
    form.get_by_role("button", name="Create key").click()
    fresh = page.get_by_test_id("fresh-key").locator("code").inner_text()
    assert fresh.startswith("da2-")
    assert "errors" not in box.gql("{ listTasks(limit: 1) { items { id } } }", api_key=fresh)
    row = page.locator(f"tr[data-key='{fresh}']")
    expect(row).to_contain_text("active")
    row.get_by_role("button", name="Rotate").click()
    expect(row).to_contain_text("revoked")
    rotated = page.get_by_test_id("fresh-key").locator("code").inner_text()
    assert rotated != fresh
    expect(page.locator(f"tr[data-key='{rotated}']")).to_contain_text("mobile app")
    assert box.post("{ listTasks(limit: 1) { items { id } } }", api_key=fresh).status_code == 401
    assert "errors" not in box.gql("{ listTasks(limit: 1) { items { id } } }", api_key=rotated)
    shot(page, "keys")
    page.locator(f"tr[data-key='{rotated}']").get_by_role("button", name="Revoke").click()
    expect(page.locator(f"tr[data-key='{rotated}']")).to_contain_text("revoked")
    assert box.post("{ listTasks(limit: 1) { items { id } } }", api_key=rotated).status_code == 401


# -- live -----------------------------------------------------------------------------------------------

def test_live_view_shows_another_clients_mutations(page: Page, box: Sandbox) -> None:
    page.goto(console_url(box, "live"))
    models = page.get_by_test_id("live-models")
    models.get_by_label("Project").uncheck()
    models.get_by_label("Task").check()
    page.get_by_test_id("live-filter").fill('{"done": {"eq": true}}')
    page.get_by_test_id("live-start").click()
    expect(page.get_by_test_id("live-state")).to_have_text("live")
    # As in AppSync, subscribers get the fields the mutation selected: select them, as Amplify's clients do.
    mutation = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id title done estimate status tags " \
               "place { city floor } projectId createdAt updatedAt } }"
    box.gql(mutation, {"i": {"title": "filtered out", "done": False}})
    shown = box.gql(mutation, {"i": {"title": "seen live", "done": True}})["data"]["createTask"]
    events = page.get_by_test_id("live-events").locator("tbody tr")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("seen live")
    expect(events.first).to_contain_text("create")
    box.gql("mutation($i: DeleteTaskInput!) { deleteTask(input: $i) { id title done estimate status tags "
            "place { city floor } projectId createdAt updatedAt } }", {"i": {"id": shown["id"]}})
    expect(events).to_have_count(2)
    expect(events.first).to_contain_text("delete")
    shot(page, "live")
    page.get_by_test_id("live-stop").click()
    expect(page.get_by_test_id("live-state")).to_have_text("stopped")


# -- health ---------------------------------------------------------------------------------------------

def test_health(page: Page, box: Sandbox) -> None:
    tasks(box)  # at least one GraphQL request for the metrics to count
    page.goto(console_url(box, "health"))
    expect(page.get_by_test_id("health-tiles")).to_contain_text("Version")
    counts = httpx.get(f"http://127.0.0.1:{box.port}/console/api/counts", timeout=10).json()
    table = page.get_by_test_id("health-models")
    for name, count in counts.items():
        expect(table.locator("tr", has_text=name)).to_contain_text(str(count))
    expect(page.get_by_test_id("health-ready")).to_contain_text("database")
    page.get_by_placeholder("filter metrics").fill("cove_requests_total")
    expect(page.locator("code", has_text="cove_requests_total").first).to_be_visible()
    shot(page, "health")


# -- no network, and cove serve's sign-in ---------------------------------------------------------------

def test_page_loads_nothing_from_elsewhere(browser: Browser, box: Sandbox) -> None:
    context = browser.new_context()
    outside: list[str] = []
    origin = f"http://127.0.0.1:{box.port}/"

    def guard(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith(origin) or url.startswith("data:"):
            route.continue_()  # type: ignore[attr-defined]
        else:
            outside.append(url)
            route.abort()  # type: ignore[attr-defined]

    context.route("**/*", guard)
    page = context.new_page()
    for route in ("data/Task", "explorer", "users", "keys", "live", "health"):
        page.goto(console_url(box, route))
        page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("health-tiles")).to_be_visible()
    context.close()
    assert outside == []


def test_serve_console_asks_for_an_admin(browser: Browser, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cove("console", "--data-dir", str(data), "create-admin", "ops", "--password",
                "a long admin password").returncode == 0
    served = start_sandbox(tmp_path, SCHEMA, command="serve", data_dir=data, *["--console"])
    try:
        context = browser.new_context(viewport={"width": 1100, "height": 700})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{served.port}/console")
        page.get_by_label("Admin name").fill("ops")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("Incorrect admin name or password")
        shot(page, "serve-sign-in")
        page.get_by_label("Password").fill("a long admin password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_test_id("model-list")).to_be_visible()
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["cove_console"]["httpOnly"] and cookies["cove_console"]["sameSite"] == "Strict"
        page.get_by_role("button", name="sign out").click()
        expect(page.get_by_label("Admin name")).to_be_visible()
        context.close()
    finally:
        served.stop()


def test_identity_picker_with_an_authorizer_token(browser: Browser, tmp_path: Path) -> None:
    lambda_box = start_sandbox(tmp_path, EXAMPLES / "lambda_schema.py", "--no-watch")
    try:
        context = browser.new_context(viewport={"width": 1360, "height": 860})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{lambda_box.port}/console#/explorer")
        kinds = page.get_by_test_id("identity-kind").locator("option").all_inner_texts()
        assert not any("user" in k.lower() or "guest" in k.lower() for k in kinds)  # no user pool here
        page.get_by_test_id("identity-kind").select_option("token")
        page.get_by_test_id("identity-token").fill("allow-ann")
        run_in_explorer(page, "query Memos { listMemos { items { id text } } }")
        outcome = page.get_by_test_id("explorer-outcome")
        expect(outcome).to_contain_text("Allowed for authorizer / OIDC token")
        page.get_by_test_id("identity-token").fill("let-me-in")
        run_in_explorer(page, "query Memos { listMemos { items { id text } } }")
        expect(outcome).to_contain_text("Denied")
        expect(outcome).to_contain_text("not authorized")
        shot(page, "explorer-authorizer-token")
        # An authorizer that raises is the server's error: its log record is on the health page.
        page.get_by_test_id("identity-token").fill("crash")
        run_in_explorer(page, "query Memos { listMemos { items { id text } } }")
        expect(outcome).to_contain_text("Denied")
        page.goto(f"http://127.0.0.1:{lambda_box.port}/console#/health")
        logs = page.get_by_test_id("health-logs")
        expect(logs.locator("tr", has_text="cove.lambda_authorizer")).to_contain_text("RuntimeError: boom")
        page.get_by_test_id("log-level").select_option("error")
        expect(logs.locator("tbody tr")).to_have_count(1)
        shot(page, "health-logs")
        context.close()
    finally:
        lambda_box.stop()


def test_console_over_tls(browser: Browser, tmp_path: Path) -> None:
    tls_box = start_sandbox(tmp_path, SCHEMA, "--no-watch", "--tls")
    try:
        context = browser.new_context(ignore_https_errors=True)  # the sandbox's own local CA
        page = context.new_page()
        page.goto(f"https://127.0.0.1:{tls_box.port}/console#/data/Project")
        page.get_by_test_id("new-record").click()
        page.get_by_test_id("record-form").locator("input[name=name]").fill("over https")
        page.get_by_test_id("save-record").click()
        expect(page.get_by_test_id("records")).to_contain_text("over https")  # an IAM-signed request
        page.goto(f"https://127.0.0.1:{tls_box.port}/console#/live")
        page.get_by_test_id("live-start").click()
        expect(page.get_by_test_id("live-state")).to_have_text("live")  # wss://, signed the same way
        context.close()
    finally:
        tls_box.stop()
