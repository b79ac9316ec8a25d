"""Flask: an extension and ``@require_token`` (contract 10).

::

    from tokensmith.verify.flask import TokensmithVerify, current_claims, require_token

    app.config.update(TOKENSMITH_ISSUER_URL="https://auth.example.com",
                      TOKENSMITH_CLIENT_ID="reports", TOKENSMITH_CLIENT_SECRET="...")
    TokensmithVerify(app)          # or .init_app(app); or TokensmithVerify(app, verifier=...)

    @app.get("/reports")
    @require_token                 # or @require_token("reports:read")
    def reports(): return {"user": current_claims().sub}

Configuration keys (all ``TOKENSMITH_``): ``ISSUER_URL`` (required), ``AUDIENCE``
(``tokensmith``), ``CLIENT_ID``/``CLIENT_SECRET`` (a service client, for the revocation stream),
``JWT_SECRET`` (HS256 servers only), ``ALGORITHM`` (pin it), ``REVOCATION_STALE_AFTER``
(seconds, 60) and ``ON_STALE``
(``refuse`` or ``accept``). A refused token gets the status, body and ``WWW-Authenticate`` of
contract 4.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast, overload

from flask import Flask, Response, current_app, g, jsonify, request

from tokensmith.core.models import AccessClaims
from tokensmith.errors import TokensmithError
from tokensmith.verify.presenting import refusal
from tokensmith.verify.verifier import Verifier

__all__ = ["TokensmithVerify", "current_claims", "require_token"]

F = TypeVar("F", bound=Callable[..., Any])
_EXTENSION = "tokensmith_verify"


class TokensmithVerify:
    def __init__(self, app: Flask | None = None, *, verifier: Verifier | None = None) -> None:
        self.verifier = verifier
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"TokensmithVerify({self.verifier!r})"

    def init_app(self, app: Flask) -> None:
        if self.verifier is None:
            self.verifier = verifier_from_config(app.config)
        self.verifier.start()
        app.extensions[_EXTENSION] = self
        app.register_error_handler(TokensmithError, error_response)


def verifier_from_config(config: Any) -> Verifier:
    issuer = config.get("TOKENSMITH_ISSUER_URL")
    if not issuer:
        raise RuntimeError("set TOKENSMITH_ISSUER_URL (the tokensmith server's URL)")
    return Verifier(
        issuer,
        audience=config.get("TOKENSMITH_AUDIENCE", "tokensmith"),
        client_id=config.get("TOKENSMITH_CLIENT_ID"),
        client_secret=config.get("TOKENSMITH_CLIENT_SECRET"),
        secret=config.get("TOKENSMITH_JWT_SECRET"),
        algorithm=config.get("TOKENSMITH_ALGORITHM"),
        stale_after=timedelta(seconds=float(config.get("TOKENSMITH_REVOCATION_STALE_AFTER", 60))),
        on_stale=config.get("TOKENSMITH_ON_STALE", "refuse"),
    )


def error_response(error: TokensmithError) -> Response:
    answer = refusal(error)
    response = jsonify(answer.body)
    response.status_code = answer.status
    response.headers.update(answer.headers)
    return response


def current_claims() -> AccessClaims:
    """The claims of the request's token (inside a view behind :func:`require_token`)."""
    return cast(AccessClaims, g.tokensmith_claims)


@overload
def require_token(view: F, /) -> F: ...
@overload
def require_token(*scopes: str) -> Callable[[F], F]: ...
def require_token(*args: Any) -> Any:
    """Guard a view: a valid, unrevoked access token (and every scope named), else the error of
    contract 4. No network call per request."""
    if len(args) == 1 and callable(args[0]):
        return _guard(args[0], ())
    scopes = tuple(str(s) for s in args)
    return lambda view: _guard(view, scopes)


def _guard(view: F, scopes: tuple[str, ...]) -> F:
    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        extension: TokensmithVerify = current_app.extensions[_EXTENSION]
        assert extension.verifier is not None
        try:
            g.tokensmith_claims = extension.verifier.verify_header(
                request.headers.get("Authorization"), scopes=scopes
            )
        except TokensmithError as exc:
            return error_response(exc)
        return view(*args, **kwargs)

    return cast(F, guarded)
