"""FastAPI integration that a user can mount in their own app.

::

    from fastapi import Depends, FastAPI
    from tokensmith.settings import load_settings
    from tokensmith.web import Tokensmith

    auth = Tokensmith(load_settings())
    app = FastAPI(lifespan=auth.lifespan)
    auth.install(app)                      # error handlers, body limit, /auth routes

    @app.get("/orders")
    async def orders(principal = Depends(auth.principal)):   # no database query
        return {"user": principal.sub}
"""

from tokensmith.web.integration import Principal, Tokensmith

__all__ = ["Principal", "Tokensmith"]
