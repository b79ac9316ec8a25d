"""The seed article's approach as a baseline: verify the JWT with PyJWT, then one Redis ``GET``
of a denylist key per request. FastAPI under ``uvicorn --workers 2``, like the user app."""

from __future__ import annotations

import os

import jwt
import redis.asyncio as redis
from fastapi import FastAPI, Header, HTTPException

from bench.procs import BENCH_SECRETS

SECRET = BENCH_SECRETS["JWT_SECRET"]


def create_app() -> FastAPI:
    app = FastAPI()
    client = redis.Redis.from_url(os.environ.get("PEER_REDIS_URL", "redis://127.0.0.1:6379/0"))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/orders")
    async def orders(authorization: str = Header("")) -> dict[str, str]:
        token = authorization.removeprefix("Bearer ")
        try:
            claims = jwt.decode(
                token, SECRET, algorithms=["HS256"], audience="tokensmith", issuer="tokensmith"
            )
        except jwt.PyJWTError:
            raise HTTPException(401, "invalid token") from None
        if await client.get(f"denylist:{claims['jti']}"):
            raise HTTPException(401, "revoked")
        return {"user": claims["sub"]}

    return app
