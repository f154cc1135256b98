"""Hostile tests: codes and passwords cannot be brute-forced, users cannot be enumerated.

Driven with boto3's cognito-idp and cognito-identity clients (no retries) against real sandboxes.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from typing import Any

import pytest
from authkit import PASSWORD, auth_info, identity, idp, sign_in, sign_up_and_in, wait_for_code
from botocore.exceptions import ClientError
from conftest import EXAMPLES, start_sandbox

from cove.wire import srp
from cove.identity.guard import AuthLimits, RateLimiter, unknown_login_key

SCHEMA = EXAMPLES / "security_schema.py"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    b = start_sandbox(tmp_path_factory.mktemp("brute"), SCHEMA, "--print-codes", "--no-watch")
    yield b
    b.stop()


def email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.com"


def client_id(box: Any) -> str:
    return str(auth_info(box)[0]["user_pool_client_id"])


def failure(call: Any, **kw: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kw)
    error = info.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def confirmed_user(box: Any) -> str:
    address = email()
    idp(box).sign_up(ClientId=client_id(box), Username=address, Password=PASSWORD)
    code = wait_for_code(box, "Confirmation code", address)
    idp(box).confirm_sign_up(ClientId=client_id(box), Username=address, ConfirmationCode=code)
    return address


def password_sign_in(box: Any, login: str, password: str) -> tuple[str, str]:
    return failure(idp(box).initiate_auth, ClientId=client_id(box), AuthFlow="USER_PASSWORD_AUTH",
                   AuthParameters={"USERNAME": login, "PASSWORD": password})


# -- codes -----------------------------------------------------------------------------------------

def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_wrong_reset_codes_invalidate_the_code(box: Any) -> None:
    address = confirmed_user(box)
    client = idp(box)
    client.forgot_password(ClientId=client_id(box), Username=address)
    code = wait_for_code(box, "Password reset code", address)
    for _ in range(5):
        assert failure(client.confirm_forgot_password, ClientId=client_id(box), Username=address,
                       ConfirmationCode=wrong(code), Password="N3w-Passw0rd!")[0] == "CodeMismatchException"
    # the right code no longer works: it was guessed at too often
    assert failure(client.confirm_forgot_password, ClientId=client_id(box), Username=address,
                   ConfirmationCode=code, Password="N3w-Passw0rd!")[0] == "ExpiredCodeException"
    sign_in(box, address)  # the password did not change
    client.forgot_password(ClientId=client_id(box), Username=address)
    deadline = time.monotonic() + 10
    while (fresh := wait_for_code(box, "Password reset code", address)) == code and time.monotonic() < deadline:
        time.sleep(0.05)
    client.confirm_forgot_password(ClientId=client_id(box), Username=address, ConfirmationCode=fresh,
                                   Password="N3w-Passw0rd!")
    sign_in(box, address, "N3w-Passw0rd!")


def test_a_code_sent_many_times_at_once_works_once(tmp_path: Any) -> None:
    # Every request reads the user (and its code) first: without the code being used up in the same
    # statement that checks it, each copy of the right code read before the first one finished would
    # also reset the password, and a right code read before wrong tries dropped it would still work.
    b = start_sandbox(tmp_path, SCHEMA, "--print-codes", "--no-watch")
    try:
        address = confirmed_user(b)
        client = idp(b)
        client.forgot_password(ClientId=client_id(b), Username=address)
        code = wait_for_code(b, "Password reset code", address)

        def confirm(i: int) -> str:
            try:
                client.confirm_forgot_password(ClientId=client_id(b), Username=address, Password=f"N3w-Passw0rd-{i}",
                                               ConfirmationCode=code if i % 2 else wrong(code))
                return "ok"
            except ClientError as exc:
                return str(exc.response["Error"]["Code"])

        with ThreadPoolExecutor(max_workers=24) as pool:
            outcomes = list(pool.map(confirm, range(24)))
        assert set(outcomes) <= {"ok", "CodeMismatchException", "ExpiredCodeException"}, outcomes
        assert outcomes.count("ok") <= 1, outcomes
        if "ok" in outcomes:   # the one reset that happened set its own password
            sign_in(b, address, f"N3w-Passw0rd-{outcomes.index('ok')}")
        else:
            sign_in(b, address)
    finally:
        b.stop()


def test_wrong_confirmation_codes_invalidate_the_code(box: Any) -> None:
    address = email()
    client = idp(box)
    client.sign_up(ClientId=client_id(box), Username=address, Password=PASSWORD)
    code = wait_for_code(box, "Confirmation code", address)
    for attempt in ("", "abcdef", "é" * 6, wrong(code), wrong(wrong(code))):
        assert failure(client.confirm_sign_up, ClientId=client_id(box), Username=address,
                       ConfirmationCode=attempt or "0")[0] == "CodeMismatchException"
    assert failure(client.confirm_sign_up, ClientId=client_id(box), Username=address,
                   ConfirmationCode=code)[0] == "ExpiredCodeException"


def test_reset_codes_expire_within_an_hour(box: Any) -> None:
    address = confirmed_user(box)
    before = time.time()
    idp(box).forgot_password(ClientId=client_id(box), Username=address)
    with sqlite3.connect(box.data_dir / "data.sqlite") as db:
        (expires,) = db.execute("SELECT code_expires_at FROM _cove_users WHERE email = ?", (address,)).fetchone()
    assert before < expires <= time.time() + 3600


def test_code_requests_per_user_are_limited(box: Any) -> None:
    address = confirmed_user(box)  # its confirmation code was the first of ten an hour
    codes = [failure_or_none(idp(box).forgot_password, ClientId=client_id(box), Username=address) for _ in range(10)]
    assert codes[:9] == [None] * 9 and codes[9] == "LimitExceededException"


def failure_or_none(call: Any, **kw: Any) -> str | None:
    try:
        call(**kw)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


# -- passwords -------------------------------------------------------------------------------------

def test_failed_sign_ins_lock_the_user_out_with_growing_delays(box: Any) -> None:
    address = confirmed_user(box)
    for _ in range(5):
        assert password_sign_in(box, address, "Wr0ng-password") == ("NotAuthorizedException",
                                                                    "Incorrect username or password.")
    # locked: even the right password is refused, by either flow, without being checked
    assert password_sign_in(box, address, PASSWORD) == ("NotAuthorizedException", "Password attempts exceeded")
    time.sleep(1.1)  # the first lock lasts one second
    assert password_sign_in(box, address, "Wr0ng-password")[1] == "Incorrect username or password."
    assert password_sign_in(box, address, PASSWORD)[1] == "Password attempts exceeded"
    time.sleep(1.1)  # the second lasts two
    assert password_sign_in(box, address, PASSWORD)[1] == "Password attempts exceeded"
    time.sleep(1.0)
    sign_in(box, address)  # and a success forgets the failures
    assert password_sign_in(box, address, "Wr0ng-password")[1] == "Incorrect username or password."


def test_srp_sign_in_counts_towards_the_lockout(box: Any) -> None:
    address = confirmed_user(box)
    for _ in range(5):
        assert srp_sign_in(box, address, "Wr0ng-password") == ("NotAuthorizedException",
                                                               "Incorrect username or password.")
    assert srp_sign_in(box, address, PASSWORD) == ("NotAuthorizedException", "Password attempts exceeded")


@pytest.mark.parametrize("known", [True, False], ids=["known", "unknown"])
def test_a_burst_of_concurrent_guesses_gets_no_more_answers_than_the_lockout_allows(box: Any, known: bool) -> None:
    # All 40 pass the lock check at the door before any is counted (the password check takes time);
    # only the answers given before the fifth failure is counted may say "Incorrect".
    address = confirmed_user(box) if known else email()
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda i: password_sign_in(box, address, f"Wr0ng-{i}"), range(40)))
    told = [a for a in answers if a == ("NotAuthorizedException", "Incorrect username or password.")]
    locked = [a for a in answers if a == ("NotAuthorizedException", "Password attempts exceeded")]
    assert len(told) + len(locked) == 40, answers
    # 5 free failures, plus at most the guesses whose checks finished together with the fifth (the
    # server checks passwords on a few threads at a time)
    assert 5 <= len(told) <= 5 + 8, len(told)
    assert password_sign_in(box, address, PASSWORD)[1] == "Password attempts exceeded"


def srp_challenge(box: Any, login: str) -> tuple[int, int, dict[str, str]]:
    a, A = srp.client_ephemeral()
    r = idp(box).initiate_auth(ClientId=client_id(box), AuthFlow="USER_SRP_AUTH",
                               AuthParameters={"USERNAME": login, "SRP_A": format(A, "x")})
    assert r["ChallengeName"] == "PASSWORD_VERIFIER"
    return a, A, dict(r["ChallengeParameters"])


def srp_sign_in(box: Any, login: str, password: str, timings: list[float] | None = None) -> tuple[str, str]:
    """Both SRP steps; ``timings`` gets the second step's duration."""
    pool = srp.pool_name(auth_info(box)[0]["user_pool_id"])
    a, A, params = srp_challenge(box, login)
    user_id = params["USER_ID_FOR_SRP"]
    key = srp.client_session_key(a, A, int(params["SRP_B"], 16), params["SALT"], pool, user_id, password)
    timestamp = srp.now_string()
    signature = srp.signature(key, pool, user_id, params["SECRET_BLOCK"], timestamp)
    client = idp(box)
    started = time.perf_counter()
    answer = failure(client.respond_to_auth_challenge, ClientId=client_id(box), ChallengeName="PASSWORD_VERIFIER",
                     ChallengeResponses={"USERNAME": user_id, "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"],
                                         "PASSWORD_CLAIM_SIGNATURE": signature, "TIMESTAMP": timestamp})
    if timings is not None:
        timings.append(time.perf_counter() - started)
    return answer


# -- enumeration -----------------------------------------------------------------------------------

def test_forgot_password_and_resend_answer_unknown_users_like_known_ones(box: Any) -> None:
    known, unknown = confirmed_user(box), email()
    answers = []
    for login in (known, unknown):
        r = idp(box).forgot_password(ClientId=client_id(box), Username=login)["CodeDeliveryDetails"]
        s = idp(box).resend_confirmation_code(ClientId=client_id(box), Username=login)["CodeDeliveryDetails"]
        answers.append((r, s))
    (known_reset, known_resend), (unknown_reset, unknown_resend) = answers
    assert known_reset["DeliveryMedium"] == unknown_reset["DeliveryMedium"] == "EMAIL"
    assert known_reset["Destination"] == f"{known[0]}***@e***"
    assert unknown_reset["Destination"] == f"{unknown[0]}***@e***"
    assert set(known_resend) == set(unknown_resend) == {"Destination", "DeliveryMedium", "AttributeName"}
    client = idp(box)
    for call, kw in ((client.confirm_forgot_password, {"Password": PASSWORD}), (client.confirm_sign_up, {})):
        assert failure(call, ClientId=client_id(box), Username=unknown, ConfirmationCode="123456",
                       **kw)[0] == "CodeMismatchException"


def test_password_sign_in_answers_unknown_users_like_known_ones(box: Any) -> None:
    known = confirmed_user(box)
    assert password_sign_in(box, email(), "Wr0ng-password") == password_sign_in(box, known, "Wr0ng-password")
    # the unknown user's password check costs an argon2 verification too
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(4):
        for kind in ("known", "unknown"):
            login = known if kind == "known" else email()
            started = time.perf_counter()
            password_sign_in(box, login, f"Wr0ng-{uuid.uuid4().hex[:6]}")
            timings[kind].append(time.perf_counter() - started)
        sign_in(box, known)  # reset the known user's failure count
    known_median, unknown_median = statistics.median(timings["known"]), statistics.median(timings["unknown"])
    assert unknown_median > 0.5 * known_median, timings


def test_srp_gives_unknown_users_a_plausible_challenge(box: Any) -> None:
    known, unknown = confirmed_user(box), email()
    _, _, first = srp_challenge(box, unknown)
    _, _, second = srp_challenge(box, unknown)
    _, _, real = srp_challenge(box, known)
    assert set(first) == set(real)
    assert first["SALT"] == second["SALT"] and first["USER_ID_FOR_SRP"] == second["USER_ID_FOR_SRP"]
    assert first["SRP_B"] != second["SRP_B"]  # fresh per sign-in, as a real user's
    # As make_verifier makes a real one: an odd 128-bit number, padded (shorter than 32 digits one time in
    # 256, when its top byte is zero, exactly as a real user's salt is).
    salt = int(first["SALT"], 16)
    assert srp.pad_hex(salt) == first["SALT"] and salt < 2**128 and salt & 1
    assert uuid.UUID(first["USER_ID_FOR_SRP"]).version == 4
    assert srp_sign_in(box, unknown, PASSWORD) == srp_sign_in(box, known, "Wr0ng-password") == (
        "NotAuthorizedException", "Incorrect username or password.")
    # the refusal of an unknown login's answer costs the same SRP work as a known one's
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(4):
        srp_sign_in(box, known, "Wr0ng-password", timings["known"])
        srp_sign_in(box, email(), "Wr0ng-password", timings["unknown"])
        sign_in(box, known)  # reset the known user's failure count
    assert statistics.median(timings["unknown"]) > 0.5 * statistics.median(timings["known"]), timings


# -- per-address throttles ---------------------------------------------------------------------------

def test_per_address_throttles(tmp_path: Any) -> None:
    b = start_sandbox(tmp_path, SCHEMA, "--no-watch", "--auth-limit", "sign_up_per_minute=2", "--auth-limit",
                      "sign_in_per_minute=3", "--auth-limit", "code_requests_per_minute=2", "--auth-limit",
                      "get_id_per_minute=2")
    try:
        auth = auth_info(b)[0]
        client = idp(b)
        calls = {
            "SignUp": lambda: client.sign_up(ClientId=auth["user_pool_client_id"], Username=email(),
                                             Password=PASSWORD),
            "InitiateAuth": lambda: client.initiate_auth(ClientId=auth["user_pool_client_id"],
                                                         AuthFlow="USER_PASSWORD_AUTH",
                                                         AuthParameters={"USERNAME": email(), "PASSWORD": "x"}),
            "ForgotPassword": lambda: client.forgot_password(ClientId=auth["user_pool_client_id"],
                                                             Username=email()),
            "GetId": lambda: identity(b).get_id(IdentityPoolId=auth["identity_pool_id"]),
        }
        for name, allowed in (("SignUp", 2), ("InitiateAuth", 3), ("ForgotPassword", 2), ("GetId", 2)):
            outcomes = [failure_or_none(calls[name]) for _ in range(allowed + 1)]
            assert "TooManyRequestsException" not in outcomes[:allowed], (name, outcomes)
            assert outcomes[allowed] == "TooManyRequestsException", (name, outcomes)
    finally:
        b.stop()


def test_auth_limits_parse_and_refuse_bad_values() -> None:
    limits = AuthLimits.parse(["sign_in_per_minute=0", "password-failures=3"])
    assert limits.sign_in_per_minute == 0 and limits.password_failures == 3
    for bad in ("sign_in_per_minute", "nope=1", "code_attempts=-1", "code_attempts=x"):
        with pytest.raises(ValueError, match="--auth-limit"):
            AuthLimits.parse([bad])


def test_guard_tables_stay_bounded_under_a_flood_of_keys() -> None:
    limiter = RateLimiter(1, 60.0, max_keys=100)
    for i in range(10_000):
        limiter.allow(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter.table.entries) == 100
    assert not limiter.allow("10.0.39.15")  # the most recent keys are still remembered
    assert limiter.allow("10.0.0.0")        # the oldest were forgotten first


def test_without_prevent_user_existence_errors_unknown_users_are_named(tmp_path: Any) -> None:
    schema = tmp_path / "visible_users.py"
    schema.write_text(SCHEMA.read_text().replace('groups=["Admins"],', 'groups=["Admins"], '
                                                 'prevent_user_existence_errors=False,'))
    b = start_sandbox(tmp_path, schema, "--no-watch")
    try:
        unknown = email()
        assert failure(idp(b).forgot_password, ClientId=client_id(b), Username=unknown)[0] == "UserNotFoundException"
        assert password_sign_in(b, unknown, PASSWORD)[0] == "UserNotFoundException"
        known = sign_up_and_in(b, email())
        assert known["AccessToken"]
    finally:
        b.stop()


def test_long_invented_logins_do_not_swell_the_guard(box: Any) -> None:
    """Unknown logins are remembered as short digests: 8 KiB logins cost what short ones cost."""
    assert len(unknown_login_key("x" * 8000 + "@example.com")) == len(unknown_login_key("a@b.co")) == 33
    assert unknown_login_key("Ada@Example.com") == unknown_login_key("ada@example.com")
    long_login = "x" * 8000 + "@example.com"
    assert password_sign_in(box, long_login, "Wr0ng-password")[1] == "Incorrect username or password."
