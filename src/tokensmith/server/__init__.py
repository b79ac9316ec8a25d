"""The standalone server: the FastAPI integration plus health, metrics, JWKS and the web app."""

from tokensmith.server.app import create_app

__all__ = ["create_app"]
