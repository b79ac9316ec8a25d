"""The doctor's checklist against an in-memory fake server through httpx.MockTransport."""

from __future__ import annotations

import httpx
import pytest

from tokensmith.diagnostics.doctor import (
    DoctorReport,
    NoAccount,
    NotTokensmith,
    ServerRateLimited,
    ServerUnreachable,
    Status,
    run_doctor,
)
from tokensmith.diagnostics.words import in_words

from .fake_tokensmith import FakeConfig, FakeTokensmith, ManualClock

URL = "http://tokensmith.test"


def doctor(server: FakeTokensmith, **kwargs: object) -> DoctorReport:
    return run_doctor(
        URL,
        transport=server.transport,
        clock=server.clock,
        sleep=server.clock.sleep,
        **kwargs,  # type: ignore[arg-type]
    )


def statuses(report: DoctorReport) -> dict[int, Status]:
    return {check.number: check.status for check in report.checks}


def failed(report: DoctorReport) -> set[int]:
    return {n for n, status in statuses(report).items() if status is Status.FAIL}


def evidence(report: DoctorReport, number: int) -> str:
    return "\n".join(report.checks[number - 1].evidence)


# -- a healthy server -------------------------------------------------------------------------


def test_healthy_server_passes_everything_but_the_unforgeable_expiry_check() -> None:
    """Contract-abiding fake, 15-minute tokens: all pass; 3 is skipped with partial evidence."""
    report = doctor(FakeTokensmith())
    assert [c.number for c in report.checks] == list(range(1, 11))
    assert failed(report) == set()
    assert statuses(report)[3] is Status.SKIP
    assert "random key: GET /auth/me -> 401 INVALID_TOKEN" in evidence(report, 3)
    assert report.exit_status == 0


def test_short_lived_tokens_are_waited_for_without_real_sleeping() -> None:
    """With 5-second tokens check 3 waits on the injected clock and sees TOKEN_EXPIRED."""
    server = FakeTokensmith(FakeConfig(access_ttl_s=5))
    report = doctor(server)
    assert statuses(report)[3] is Status.PASS
    assert "TOKEN_EXPIRED" in evidence(report, 3)
    assert 'error="invalid_token"' in evidence(report, 3)
    assert 5 <= server.clock.slept_s < 10
    assert statuses(report)[1] is Status.WARN  # 5s works, but is unusually short
    assert report.exit_status == 0


def test_wait_measures_the_servers_tolerance() -> None:
    """A server with 20s tolerance keeps answering 200 past exp; the doctor reports about 20s."""
    server = FakeTokensmith(FakeConfig(access_ttl_s=3, tolerance_s=20))
    report = doctor(server)
    assert statuses(report)[3] is Status.PASS
    assert "up to about 20 seconds after exp" in evidence(report, 3)
    assert "server tolerance 20 seconds (measured)" in evidence(report, 4)


def test_server_accepting_tokens_long_past_exp_fails_check_3() -> None:
    """Tolerance beyond the 60s default: the wait gives up and check 3 fails."""
    server = FakeTokensmith(FakeConfig(access_ttl_s=3, tolerance_s=600))
    report = doctor(server)
    assert 3 in failed(report)
    assert "still answers 200" in evidence(report, 3)


def test_sessions_opened_by_the_doctor_are_logged_out() -> None:
    """After the run no session the doctor opened is left live."""
    server = FakeTokensmith()
    doctor(server)
    assert server.live_sessions() == 0


def test_given_credentials_are_used_instead_of_registering() -> None:
    """--email/--password: no POST /auth/register."""
    server = FakeTokensmith(FakeConfig(registration_open=False))
    server.users["me@example.com"] = "correct horse battery"
    report = doctor(server, email="me@example.com", password="correct horse battery")
    assert failed(report) == set()
    assert "POST /auth/register" not in server.requests


# -- misconfigured servers --------------------------------------------------------------------


def test_long_lifetimes_fail_check_1() -> None:
    """30-day access tokens and 90-day refresh tokens are reported with the fix."""
    server = FakeTokensmith(FakeConfig(access_ttl_s=30 * 86400, refresh_ttl_s=90 * 86400))
    report = doctor(server)
    assert 1 in failed(report)
    text = evidence(report, 1)
    assert "access tokens live 30 days" in text
    assert "refresh tokens live 90 days" in text
    assert "JWT_EXPIRES_IN" in (report.checks[0].fix or "")


def test_expires_in_that_disagrees_with_the_token_fails_check_1() -> None:
    """expiresIn says 15 minutes but the token lives 10: clients would refresh too late."""
    report = doctor(FakeTokensmith(FakeConfig(access_ttl_s=600, expires_in_override=900)))
    assert 1 in failed(report)
    assert "expiresIn (900s) disagrees" in evidence(report, 1)


def test_weak_secret_fails_check_9_and_lets_check_3_forge_an_expired_token() -> None:
    """JWT_SECRET=secret is found; check 3 re-signs an expired copy with it and passes."""
    report = doctor(FakeTokensmith(FakeConfig(secret="secret")))
    assert failed(report) == {9}
    assert "well-known secret 'secret'" in evidence(report, 9)
    assert statuses(report)[3] is Status.PASS
    assert "re-signed a real token" in evidence(report, 3)


def test_weak_refresh_secret_is_found_too() -> None:
    """The refresh secret is tried separately (JWT_REFRESH_SECRET)."""
    report = doctor(FakeTokensmith(FakeConfig(refresh_secret="changeme")))
    assert failed(report) == {9}
    assert "refresh tokens are signed with the well-known secret 'changeme'" in evidence(report, 9)
    assert "JWT_REFRESH_SECRET" in (report.checks[8].fix or "")


def test_no_rotation_fails_checks_6_and_7() -> None:
    """Refresh returning the same refresh token: no rotation, so no reuse detection either."""
    report = doctor(FakeTokensmith(FakeConfig(rotate=False)))
    assert failed(report) == {6, 7}
    assert "same refresh token" in evidence(report, 6)


def test_rotation_without_spending_the_old_token_fails_checks_6_and_7() -> None:
    """New tokens each time but old ones keep working: 6 and 7 fail."""
    report = doctor(FakeTokensmith(FakeConfig(detect_reuse=False)))
    assert failed(report) == {6, 7}
    assert "the spent refresh token still mints new tokens" in evidence(report, 6)


def test_logout_that_leaves_access_tokens_alive_fails_check_8() -> None:
    """Access token still accepted right after logout: check 8 fails with the fix."""
    report = doctor(FakeTokensmith(FakeConfig(logout_revokes_access=False)))
    assert failed(report) == {8}
    assert "right after logout: GET /auth/me -> 200" in evidence(report, 8)


def test_missing_cache_control_fails_check_10() -> None:
    """Token responses without Cache-Control: no-store fail check 10."""
    report = doctor(FakeTokensmith(FakeConfig(cache_control="private, max-age=60")))
    assert failed(report) == {10}
    assert "POST /auth/login: Cache-Control: private, max-age=60" in evidence(report, 10)


def test_refresh_cookie_readable_by_scripts_fails_check_5() -> None:
    """A refresh_token cookie without HttpOnly fails check 5."""
    report = doctor(FakeTokensmith(FakeConfig(cookie_httponly=False)))
    assert failed(report) == {5}
    assert "not HttpOnly" in evidence(report, 5)


def test_server_without_cookie_transport_still_passes_check_5() -> None:
    """Body transport alone is a storable form; the cookie transport is noted as not offered."""
    report = doctor(FakeTokensmith(FakeConfig(cookie_transport=False)))
    assert statuses(report)[5] is Status.PASS
    assert "not offered" in evidence(report, 5)


@pytest.mark.parametrize(
    ("offset_s", "status"),
    [(0, Status.PASS), (20, Status.PASS), (-40, Status.WARN), (300, Status.FAIL)],
)
def test_clock_skew_is_judged_against_the_assumed_60s_tolerance(
    offset_s: int, status: Status
) -> None:
    """Server clock 5 minutes ahead fails check 4; 40s behind warns; 20s is fine."""
    report = doctor(FakeTokensmith(FakeConfig(clock_offset_s=offset_s)))
    assert statuses(report)[4] is status
    if offset_s:
        direction = "ahead of" if offset_s > 0 else "behind"
        assert f"server clock {in_words(abs(offset_s))} {direction} this machine" in evidence(
            report, 4
        )


def test_expired_token_with_the_wrong_code_fails_check_3() -> None:
    """INVALID_TOKEN for an expired token is not distinguishable: check 3 fails."""
    report = doctor(FakeTokensmith(FakeConfig(access_ttl_s=2, expired_code="INVALID_TOKEN")))
    assert 3 in failed(report)
    assert "expected 401 TOKEN_EXPIRED" in evidence(report, 3)


def test_expired_token_without_www_authenticate_fails_check_3() -> None:
    """RFC 6750: the 401 must carry WWW-Authenticate with error="invalid_token"."""
    report = doctor(FakeTokensmith(FakeConfig(access_ttl_s=2, www_authenticate=False)))
    assert 3 in failed(report)
    assert "no WWW-Authenticate header" in evidence(report, 3)


def test_server_accepting_a_random_key_fails_check_3() -> None:
    """The partial probe catches a server that does not verify signatures at all."""
    report = doctor(FakeTokensmith(FakeConfig(verify_signature=False, tolerance_s=10**9)))
    assert 3 in failed(report)
    assert "ACCEPTED a token signed with a random key" in evidence(report, 3)


def test_expiry_checked_before_signature_fails_check_3() -> None:
    """TOKEN_EXPIRED for a badly signed token means exp is trusted before the signature."""
    report = doctor(FakeTokensmith(FakeConfig(exp_before_signature=True)))
    assert 3 in failed(report)
    assert "exp is checked before the signature" in evidence(report, 3)


def test_exit_status_is_the_number_of_failures() -> None:
    """Several misconfigurations at once: exit status counts the failed checks."""
    config = FakeConfig(secret="password", rotate=False, cache_control=None)
    report = doctor(FakeTokensmith(config))
    assert failed(report) == {6, 7, 9, 10}
    assert report.exit_status == 4
    assert report.as_dict()["failed"] == 4


# -- when the checklist cannot run ------------------------------------------------------------


def test_connection_refused_is_server_unreachable() -> None:
    """A transport that cannot connect becomes ServerUnreachable (exit 69)."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(ServerUnreachable) as info:
        run_doctor(URL, transport=httpx.MockTransport(refuse), clock=ManualClock())
    assert "connection refused" in info.value.message
    assert info.value.exit_status == 69


def test_timeout_is_server_unreachable() -> None:
    """A server that never answers becomes ServerUnreachable naming the request."""

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ServerUnreachable, match="did not answer GET /healthz"):
        run_doctor(URL, transport=httpx.MockTransport(hang), clock=ManualClock())


def test_html_server_is_not_tokensmith() -> None:
    """Some other web server (HTML 404s) is reported as not tokensmith (exit 76)."""

    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<h1>Not Found</h1>")

    with pytest.raises(NotTokensmith) as info:
        run_doctor(URL, transport=httpx.MockTransport(html), clock=ManualClock())
    assert info.value.exit_status == 76


def test_server_without_login_endpoint_is_not_tokensmith() -> None:
    """healthz answers but /auth/login is 404: not tokensmith."""
    server = FakeTokensmith()
    server.users["a@example.com"] = "password123"

    def no_login(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/login":
            return httpx.Response(404, json={"detail": "Not Found"})
        return server.handle(request)

    with pytest.raises(NotTokensmith, match="POST /auth/login -> 404"):
        run_doctor(
            URL,
            email="a@example.com",
            password="password123",
            transport=httpx.MockTransport(no_login),
            clock=server.clock,
        )


def test_closed_registration_without_credentials_asks_for_them() -> None:
    """No --email/--password and registration closed: NoAccount says what to pass (exit 77)."""
    server = FakeTokensmith(FakeConfig(registration_open=False))
    with pytest.raises(NoAccount, match="pass --email and --password") as info:
        doctor(server)
    assert info.value.exit_status == 77


def test_wrong_credentials_are_no_account() -> None:
    """A login refused with INVALID_CREDENTIALS aborts with NoAccount."""
    with pytest.raises(NoAccount, match="INVALID_CREDENTIALS"):
        doctor(FakeTokensmith(), email="who@example.com", password="wrong-password")


def test_rate_limit_aborts_with_retry_after() -> None:
    """A 429 anywhere stops the run: ServerRateLimited carries Retry-After (exit 75)."""
    server = FakeTokensmith()

    def limited(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/login":
            return httpx.Response(
                429,
                json={"error": "slow down", "code": "RATE_LIMITED"},
                headers={"Retry-After": "42"},
            )
        return server.handle(request)

    with pytest.raises(ServerRateLimited, match="retry after 42s") as info:
        run_doctor(URL, transport=httpx.MockTransport(limited), clock=server.clock)
    assert info.value.exit_status == 75


def test_report_as_dict_shape() -> None:
    """The JSON form lists every check with number, title, status, evidence and fix."""
    data = doctor(FakeTokensmith(FakeConfig(cache_control=None))).as_dict()
    assert set(data) == {"url", "checks", "failed", "exit_status"}
    assert data["url"] == URL
    assert [c["number"] for c in data["checks"]] == list(range(1, 11))
    tenth = data["checks"][9]
    assert set(tenth) == {"number", "title", "status", "evidence", "fix"}
    assert tenth["status"] == "fail"
    assert isinstance(tenth["evidence"], list)
    assert data["exit_status"] == data["failed"] == 1


def test_url_without_scheme_gets_http() -> None:
    """'host:port' is read as http://host:port."""
    report = run_doctor(
        "tokensmith.test/",
        transport=FakeTokensmith().transport,
        clock=ManualClock(),
        sleep=lambda s: None,
    )
    assert report.url == "http://tokensmith.test"


def test_refresh_cookie_without_secure_over_https_fails_check_5() -> None:
    """Over https the refresh_token cookie must carry Secure."""
    server = FakeTokensmith()
    report = run_doctor(
        "https://tokensmith.test",
        transport=server.transport,
        clock=server.clock,
        sleep=server.clock.sleep,
    )
    assert failed(report) == {5}
    assert "must be Secure" in evidence(report, 5)
