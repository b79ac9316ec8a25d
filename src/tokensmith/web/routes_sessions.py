"""``/auth/sessions`` (contract 5.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Path, Request, Response

from tokensmith.core.models import AccessClaims
from tokensmith.web.responses import errors
from tokensmith.web.schemas import SessionList, SessionOut

if TYPE_CHECKING:
    from tokensmith.web.integration import Tokensmith

__all__ = ["session_routes"]


def session_routes(ts: Tokensmith) -> APIRouter:
    router = APIRouter()

    @router.get("/sessions", response_model=SessionList, responses=errors(401))
    async def list_sessions(claims: AccessClaims = Depends(ts.principal)) -> SessionList:
        """The user's live sessions; ``current`` marks the one this token belongs to."""
        sessions = await ts.services.sessions.list_active(claims.sub)
        return SessionList(sessions=[SessionOut.of(s, claims.sid) for s in sessions])

    @router.delete("/sessions/{session_id}", status_code=204, responses=errors(401, 404))
    async def delete_session(
        request: Request,
        session_id: str = Path(max_length=64),
        claims: AccessClaims = Depends(ts.principal),
    ) -> Response:
        """End one of the user's sessions (404 for a session that is not theirs)."""
        await ts.services.sessions.revoke_one(claims.sub, session_id, ts.context(request))
        return Response(status_code=204)

    return router
