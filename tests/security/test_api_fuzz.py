"""Schemathesis over ``/openapi.json`` against a real ``tokensmith serve`` process.

Every operation is fuzzed with schema-valid (positive) and schema-violating (negative) requests,
without a token and with a valid Bearer token. Checks: no 5xx, responses conform to the documented
schema and content type, and every error body has ``error`` and ``code`` (contract 4). Bounded by
``MAX_EXAMPLES`` per operation and mode, with shrinking off, to stay well under 90 s.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)
from schemathesis.core.result import Ok

from tests.security.harness import Live

MAX_EXAMPLES = 12

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Operations whose documented schema is known to be wrong, checked for 5xx and the error shape
# only until fixed (reported to the lead):
SCHEMA_GAPS: dict[str, str] = {
    # Operations whose documented responses are known not to match; each gets only the 5xx
    # check. Empty: /auth/revoke now documents its empty 200 (response_class=Response).
}
# Not used, and why:
# * status_code_conformance: every route can answer 413 (body limit, a middleware) and 422 (any
#   malformed body) and the /auth routes 429; FastAPI documents only what each route declares,
#   so this check reports documented-by-contract statuses as "undocumented".
# * negative_data_rejection / positive_data_acceptance: the service ignores unknown JSON members
#   and reads optional bodies leniently (logout and refresh accept an empty body by contract), so
#   "negative" cases are legitimately accepted.


def _error_shape(response: Any, case: Any) -> str | None:
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return f"{case.method} {case.path}: {response.status_code} body is not JSON"
    if case.path == "/oauth/token" and isinstance(body, dict) and "error_description" in body:
        # RFC 6749 section 5.2 (contract 10): the token endpoint answers in OAuth's shape.
        return None if isinstance(body["error"], str) else f"/oauth/token error body {body!r}"
    if not isinstance(body, dict) or not {"error", "code"} <= body.keys():
        return f"{case.method} {case.path}: {response.status_code} error body {body!r}"
    if not isinstance(body["error"], str) or not isinstance(body["code"], str):
        return f"{case.method} {case.path}: error/code are not strings: {body!r}"
    return None


def _fuzz(
    operation: Any, mode: GenerationMode, url: str, headers: dict[str, str], problems: list[str]
) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        problems.append("")  # one entry per request sent; the empty ones are dropped below
        try:
            checks = [not_a_server_error] if operation.label in SCHEMA_GAPS else CHECKS
            response = case.call_and_validate(
                base_url=url, headers=headers, checks=checks, timeout=30
            )
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis FailureGroup: collect
            problems.append(f"{case.method} {case.path} ({mode.value}): {exc}")
            return
        if (problem := _error_shape(response, case)) is not None:
            problems.append(problem)

    try:
        run()
    except Unsatisfiable:  # nothing to violate (e.g. no parameters and no body): nothing to send
        assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_openapi_fuzzing_finds_no_5xx_and_answers_conform(live_hs256: Live) -> None:
    """Positive and negative cases for every documented operation, with and without a valid
    token: never a 5xx, every response matches the schema, every error has error and code."""
    url = live_hs256.server.url
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    problems: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert all(isinstance(result, Ok) for result in schema.get_all_operations())
    assert len(operations) >= 10
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, url, {}, problems)
            token = live_hs256.api.login().access
            _fuzz(operation, mode, url, {"Authorization": f"Bearer {token}"}, problems)
    sent = problems.count("")
    problems = [p for p in problems if p]
    assert sent >= 10 * len(operations), sent
    assert problems == [], "\n".join(problems[:20])
    live_hs256.api.assert_still_works()
