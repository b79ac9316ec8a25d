"""djangorestframework-simplejwt, as its docs recommend: ``JWTAuthentication`` on the API,
``TokenObtainPairView`` / ``TokenRefreshView``, rotation with the ``token_blacklist`` app
(``ROTATE_REFRESH_TOKENS`` + ``BLACKLIST_AFTER_ROTATION``), and Django's ``Argon2PasswordHasher``
set to the same parameters tokensmith ships.

One module: settings, URLs and the WSGI application. Served with
``gunicorn -w 2 bench.peers.django_app:application``; ``python -m bench.peers.django_app seed N``
migrates and creates N users (``user{i}@peers.bench``, also their username).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from urllib.parse import urlsplit

import django
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

from bench.peers import peer_database_url


class OwaspArgon2Hasher(Argon2PasswordHasher):
    """Django's argon2 hasher with tokensmith's shipped parameters (19 MiB, t=2, p=1)."""

    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1


def _database() -> dict[str, object]:
    url = peer_database_url()
    if url.startswith("sqlite"):
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": url.removeprefix("sqlite:///"),
            # Django's documented settings for SQLite under concurrent writers.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 5,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "postgres",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": parts.port or 5432,
        "CONN_MAX_AGE": 60,
    }


if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-django-secret-0123456789abcdef0123456789",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "rest_framework_simplejwt.token_blacklist",
        ],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        DATABASES={"default": _database()},
        PASSWORD_HASHERS=[f"{__name__}.OwaspArgon2Hasher"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [
                "rest_framework_simplejwt.authentication.JWTAuthentication"
            ],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        },
        SIMPLE_JWT={
            "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
            "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
            "ROTATE_REFRESH_TOKENS": True,
            "BLACKLIST_AFTER_ROTATION": True,
            "UPDATE_LAST_LOGIN": False,
        },
    )
    django.setup()

from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402
from rest_framework_simplejwt.views import (  # noqa: E402
    TokenObtainPairView,
    TokenRefreshView,
)


class Orders(APIView):
    def get(self, request):  # type: ignore[no-untyped-def]
        return Response({"user": str(request.user.pk)})


def healthz(request):  # type: ignore[no-untyped-def]
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", healthz),
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
    path("orders", Orders.as_view()),
]


def seed(n: int) -> None:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    password = make_password("bench-password-123")
    User.objects.bulk_create(
        User(username=f"user{i}@peers.bench", email=f"user{i}@peers.bench", password=password)
        for i in range(n)
    )


if __name__ == "__main__" and sys.argv[1:2] == ["seed"]:
    seed(int(sys.argv[2]))
else:
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
