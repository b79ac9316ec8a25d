"""``tokensmith doctor``: the JWT-expiry checklist run against a live server.

All HTTP goes through :class:`~.http.ServerApi` (pass ``transport=`` to test with
``httpx.MockTransport``); the clock and ``sleep`` are parameters of :func:`run_doctor`.
"""

from tokensmith.diagnostics.doctor.results import (
    CheckResult,
    DoctorAborted,
    DoctorReport,
    NoAccount,
    NotTokensmith,
    ServerRateLimited,
    ServerUnreachable,
    Status,
)
from tokensmith.diagnostics.doctor.runner import run_doctor

__all__ = [
    "CheckResult",
    "DoctorAborted",
    "DoctorReport",
    "NoAccount",
    "NotTokensmith",
    "ServerRateLimited",
    "ServerUnreachable",
    "Status",
    "run_doctor",
]
