"""The standalone server's app with the refresh's rotation through SQLAlchemy's execution path
(a pooled connection, Core ``execute``, ``Result`` objects), as before the direct path
(``tokensmith.storage.sql.direct``): the "before" of the ``direct`` workload.

The core takes that path whenever an audit listener wants refresh events, so this app says one
does. Served with ``uvicorn bench.apps.via_sqlalchemy:create_app --factory --workers 2``.
"""

from __future__ import annotations

from fastapi import FastAPI

from tokensmith.core.audit import AuditTrail
from tokensmith.core.models import AuditKind
from tokensmith.server.app import create_app_from_env


def through_sqlalchemy() -> None:
    """Every refresh through the repositories (``Rotation._rotate_in_one_statement``)."""

    def listens_to(self: AuditTrail, kind: AuditKind) -> bool:
        return True

    AuditTrail.listens_to = listens_to  # type: ignore[method-assign]


def create_app() -> FastAPI:
    through_sqlalchemy()
    return create_app_from_env()
