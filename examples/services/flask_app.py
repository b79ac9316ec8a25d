"""A Flask service that trusts tokensmith's access tokens (contract 10).

Run it against a running tokensmith::

    TOKENSMITH_ISSUER_URL=http://127.0.0.1:8000 TOKENSMITH_CLIENT_ID=reports \\
    TOKENSMITH_CLIENT_SECRET=... TOKENSMITH_JWT_SECRET=... \\
    python -m examples.services.flask_app --port 8101

``GET /reports`` needs a valid token, ``POST /reports`` the scope ``reports:write``; ``GET
/public`` is open and ``GET /plain`` is the same work as ``/reports`` without the guard (for the
benchmark). A logout at tokensmith makes ``/reports`` refuse the token within milliseconds,
without a request from here to tokensmith.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from flask import Flask

from tokensmith.verify.flask import TokensmithVerify, current_claims, require_token

ENV_KEYS = (
    "TOKENSMITH_ISSUER_URL",
    "TOKENSMITH_AUDIENCE",
    "TOKENSMITH_CLIENT_ID",
    "TOKENSMITH_CLIENT_SECRET",
    "TOKENSMITH_JWT_SECRET",
    "TOKENSMITH_REVOCATION_STALE_AFTER",
    "TOKENSMITH_ON_STALE",
)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update({k: os.environ[k] for k in ENV_KEYS if k in os.environ})
    app.config.update(config or {})
    TokensmithVerify(app)

    @app.get("/public")
    def public() -> dict[str, Any]:
        return {"hello": "anyone"}

    @app.get("/plain")
    def plain() -> dict[str, Any]:
        return {"reports": ["q1", "q2"], "user": None}

    @app.get("/reports")
    @require_token
    def reports() -> dict[str, Any]:
        return {"reports": ["q1", "q2"], "user": current_claims().sub}

    @app.post("/reports")
    @require_token("reports:write")
    def write_report() -> tuple[dict[str, Any], int]:
        return {"created": True, "by": current_claims().sub}, 201

    @app.get("/health")
    def health() -> dict[str, Any]:
        verifier = app.extensions["tokensmith_verify"].verifier
        return {"fresh": verifier.fresh, "revoked": len(verifier.revoked)}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.services.flask_app")
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args()
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", args.port, create_app(), threaded=True)


if __name__ == "__main__":
    main()
