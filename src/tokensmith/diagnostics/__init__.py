"""Diagnostics: pure logic behind ``tokensmith inspect`` and ``tokensmith doctor``.

- :mod:`.words`  say a time span in words
- :mod:`.jwt_parts`  split and decode a compact JWS without trusting it
- :mod:`.token_report`  explain a token's times, kind and risks against an injected ``now``
- :mod:`.signature`  verify a signature with a secret, a key file or a JWKS URL
- :mod:`.weak_secrets`  try the shipped list of weak HS* secrets against a token
- :mod:`.doctor`  the live-server checklist (its HTTP goes through one seam)

Nothing here prints or exits: the CLI modules present the results.
"""
