"""``/auth/sessions``: the user's sessions (contract 5.4), and sessions started by a service
client for a user it authenticated itself (contract 8)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request, Response

from tokensmith.core.clients import ServiceClient
from tokensmith.core.models import AccessClaims
from tokensmith.core.sessions import SessionService
from tokensmith.errors import InvalidClient
from tokensmith.web.client_auth import ClientAuthenticator
from tokensmith.web.context import request_context
from tokensmith.web.guards import Guards
from tokensmith.web.responses import errors
from tokensmith.web.schemas import LoginResponse, SessionList, SessionOut, StartSessionBody
from tokensmith.web.token_response import TokenResponder
from tokensmith.web.transport import ClientAddress

__all__ = ["session_routes"]


def session_routes(
    sessions: SessionService,
    guards: Guards,
    addresses: ClientAddress,
    authenticate_client: ClientAuthenticator,
    respond: TokenResponder,
) -> APIRouter:
    router = APIRouter()

    @router.get("/sessions", response_model=SessionList, responses=errors(401))
    async def list_sessions(claims: AccessClaims = Depends(guards.principal)) -> SessionList:
        """The user's live sessions; ``current`` marks the one this token belongs to."""
        found = await sessions.list_active(claims.sub)
        return SessionList(sessions=[SessionOut.of(s, claims.sid) for s in found])

    @router.delete("/sessions/{session_id}", status_code=204, responses=errors(401, 404))
    async def delete_session(
        request: Request,
        session_id: str = Path(max_length=64),
        claims: AccessClaims = Depends(guards.principal),
    ) -> Response:
        """End one of the user's sessions (404 for a session that is not theirs)."""
        await sessions.revoke_one(claims.sub, session_id, request_context(addresses, request))
        return Response(status_code=204)

    @router.post(
        "/sessions",
        status_code=201,
        response_model=LoginResponse,
        responses={
            401: {
                "description": "Client authentication failed (INVALID_CLIENT), or the subject "
                "cannot have a session (INVALID_CREDENTIALS)"
            },
            **errors(429),
        },
    )
    async def start_session(
        body: StartSessionBody,
        request: Request,
        client: ServiceClient = Depends(authenticate_client),
    ) -> Response:
        """A service client (``SERVICE_CLIENTS``, HTTP Basic) opens a session for a user it
        authenticated itself. ``claims`` go into every access token of the session, across
        refreshes. The answer is the login response; its ``user`` is ``{"id": subject}`` for a
        subject that is not a tokensmith user."""
        if not client.starts_sessions:
            raise InvalidClient("This client may not start sessions: use a SERVICE_CLIENTS entry")
        tokens = await sessions.start(
            body.subject,
            request_context(addresses, request),
            amr=body.amr,
            remember=body.remember,
            claims=body.claims,
            via=f"service_client:{client.id}",
        )
        return respond(request, tokens, status_code=201)

    return router
