"""Verify tokensmith access tokens in your other services (contract 10).

::

    from tokensmith.verify import Verifier

    verifier = Verifier("https://auth.example.com", audience="tokensmith",
                        client_id="billing", client_secret="...").start()
    claims = verifier.verify(token)     # AccessClaims, or a tokensmith error of contract 4

Needs the base distribution only (PyJWT, cryptography, httpx): ``pip install tokensmith[verify]``.
Adapters: :mod:`tokensmith.verify.starlette` (FastAPI/Starlette), :mod:`tokensmith.verify.flask`,
:mod:`tokensmith.verify.django` (Django and Django REST framework). See docs/resource-servers.md.
"""

from __future__ import annotations

from tokensmith.core.models import AccessClaims
from tokensmith.verify.presenting import Refusal, refusal
from tokensmith.verify.verifier import Verifier, bearer_token

__all__ = ["AccessClaims", "Refusal", "Verifier", "bearer_token", "refusal"]
