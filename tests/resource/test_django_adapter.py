"""The Django adapter in process (in a child interpreter: Django's settings are process-wide):
DRF authentication and the middleware answer with contract 4's status, body and challenge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def observations() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.resource.django_probe"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_drf_authentication_and_middleware_answer_as_contract_4() -> None:
    """No token: 401 NO_TOKEN (bare Bearer challenge); valid: the view sees sub and sid;
    garbage and revoked: 401 with error="invalid_token"; unprotected paths only annotate."""
    seen = observations()
    assert seen["drf_none"]["status"] == 401
    assert seen["drf_none"]["body"]["code"] == "NO_TOKEN"
    assert seen["drf_none"]["challenge"].startswith("Bearer")
    assert seen["drf_good"] == {"status": 200, "body": {"user": "u1", "sid": "sid-1"},
                                "challenge": None}  # fmt: skip
    for key in ("drf_garbage", "drf_revoked", "mw_revoked"):
        assert seen[key]["status"] == 401, key
        assert 'error="invalid_token"' in seen[key]["challenge"], key
    assert seen["drf_garbage"]["body"]["code"] == "INVALID_TOKEN"
    assert seen["drf_revoked"]["body"]["code"] == "TOKEN_REVOKED"
    assert seen["mw_revoked"]["body"]["code"] == "TOKEN_REVOKED"
    assert seen["mw_none"]["body"]["code"] == "NO_TOKEN"
    assert seen["mw_good"]["body"] == {"sub": "u1"}
    assert seen["open_none"]["body"] == {"claims": False}
    assert seen["open_garbage"]["body"] == {"claims": False}
