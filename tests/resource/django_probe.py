"""Run by ``test_django_adapter.py`` in its own interpreter (Django's settings are process-wide):
the Django middleware, the DRF authentication class and the exception handler, in process, with
the verifier reading discovery from a fake server. Prints one JSON line of observations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import django
import httpx
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="probe-only",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
    MIDDLEWARE=["tokensmith.verify.django.TokensmithMiddleware"],
    DATABASES={},
    TOKENSMITH={"ISSUER_URL": "http://ts", "PROTECTED_PATHS": ["/legacy/"]},
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["tokensmith.verify.django.TokensmithAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "EXCEPTION_HANDLER": "tokensmith.verify.django.exception_handler",
        "UNAUTHENTICATED_USER": None,
    },
)
django.setup()

from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.decorators import api_view  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402

from tests.resource.test_verifier import FakeServer, token  # noqa: E402
from tokensmith.core.clock import ManualClock  # noqa: E402
from tokensmith.core.models import Revocation  # noqa: E402
from tokensmith.verify import Verifier  # noqa: E402
from tokensmith.verify import django as adapter  # noqa: E402

clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
server = FakeServer()
verifier = Verifier("http://ts", clock=clock, transport=httpx.MockTransport(server.handler))
adapter._verifiers["http://ts"] = verifier.start()


@api_view(["GET"])
def invoices(request: Request) -> Response:
    return Response({"user": request.user.id, "sid": request.auth.sid})


def whoami(request: HttpRequest) -> JsonResponse:
    claims: Any = request.tokensmith_claims
    return JsonResponse({"sub": claims.sub})


def open_view(request: HttpRequest) -> JsonResponse:
    claims: Any = request.tokensmith_claims
    return JsonResponse({"claims": claims is not None})


urlpatterns = [
    path("api/invoices", invoices),
    path("legacy/whoami", whoami),
    path("open", open_view),
]


def observe(response: Any) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "body": json.loads(response.content),
        "challenge": response.headers.get("WWW-Authenticate"),
    }


client = Client()
good = f"Bearer {token(server.keys[0], clock)}"
seen = {
    "drf_none": observe(client.get("/api/invoices")),
    "drf_good": observe(client.get("/api/invoices", HTTP_AUTHORIZATION=good)),
    "drf_garbage": observe(client.get("/api/invoices", HTTP_AUTHORIZATION="Bearer x.y.z")),
    "mw_none": observe(client.get("/legacy/whoami")),
    "mw_good": observe(client.get("/legacy/whoami", HTTP_AUTHORIZATION=good)),
    "open_none": observe(client.get("/open")),
    "open_garbage": observe(client.get("/open", HTTP_AUTHORIZATION="Bearer x.y.z")),
}
verifier.revoked.add([Revocation("sid-1", datetime(2100, 1, 1, tzinfo=UTC))])
seen["drf_revoked"] = observe(client.get("/api/invoices", HTTP_AUTHORIZATION=good))
seen["mw_revoked"] = observe(client.get("/legacy/whoami", HTTP_AUTHORIZATION=good))
print(json.dumps(seen))
