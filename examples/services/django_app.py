"""A Django REST framework service that trusts tokensmith's access tokens (contract 10), in one
file (settings, views, URLs) so it reads top to bottom.

    TOKENSMITH_ISSUER_URL=http://127.0.0.1:8000 TOKENSMITH_CLIENT_ID=invoices \\
    TOKENSMITH_CLIENT_SECRET=... TOKENSMITH_JWT_SECRET=... \\
    python -m examples.services.django_app --port 8102

``/api/invoices`` is a DRF view authenticated by ``TokensmithAuthentication``; ``/legacy/whoami``
is a plain Django view under the middleware's ``PROTECTED_PATHS``; ``/public`` is open.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import django
from django.conf import settings


def configure() -> None:
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret"),
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
        MIDDLEWARE=["tokensmith.verify.django.TokensmithMiddleware"],
        DATABASES={},
        TOKENSMITH={
            "ISSUER_URL": os.environ["TOKENSMITH_ISSUER_URL"],
            "AUDIENCE": os.environ.get("TOKENSMITH_AUDIENCE", "tokensmith"),
            "CLIENT_ID": os.environ.get("TOKENSMITH_CLIENT_ID"),
            "CLIENT_SECRET": os.environ.get("TOKENSMITH_CLIENT_SECRET"),
            "JWT_SECRET": os.environ.get("TOKENSMITH_JWT_SECRET"),
            "REVOCATION_STALE_AFTER": os.environ.get("TOKENSMITH_REVOCATION_STALE_AFTER", "60"),
            "PROTECTED_PATHS": ["/legacy/"],
        },
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": ["tokensmith.verify.django.TokensmithAuthentication"],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
            "EXCEPTION_HANDLER": "tokensmith.verify.django.exception_handler",
            "UNAUTHENTICATED_USER": None,
        },
    )
    django.setup()


configure()

from django.http import HttpRequest, JsonResponse  # noqa: E402 - after settings
from django.urls import path  # noqa: E402
from rest_framework.decorators import api_view, permission_classes  # noqa: E402
from rest_framework.permissions import AllowAny  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402


@api_view(["GET"])
def invoices(request: Request) -> Response:
    return Response({"invoices": [1, 2], "user": request.user.id})


@api_view(["GET"])
@permission_classes([AllowAny])
def public(request: Request) -> Response:
    return Response({"hello": "anyone"})


def whoami(request: HttpRequest) -> JsonResponse:
    claims: Any = request.tokensmith_claims
    return JsonResponse({"sub": claims.sub, "sid": claims.sid})


urlpatterns = [
    path("api/invoices", invoices),
    path("public", public),
    path("legacy/whoami", whoami),
]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.services.django_app")
    parser.add_argument("--port", type=int, default=8102)
    args = parser.parse_args()
    from django.core.wsgi import get_wsgi_application
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", args.port, get_wsgi_application(), threaded=True)


if __name__ == "__main__":
    main()
