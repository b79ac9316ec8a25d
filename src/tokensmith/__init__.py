"""tokensmith: JWT sessions that behave.

The names below are the library's public surface (contract 8)::

    from tokensmith import Subject, Tokensmith, UserDirectory, load_settings

They load lazily: ``import tokensmith.client`` and ``import tokensmith.verify`` need only the base
distribution (PyJWT, cryptography, httpx), while :class:`Tokensmith` and :func:`load_settings`
need the server extra (``pip install 'tokensmith[server]'``) and import it on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tokensmith._extras import missing_server_extra

__version__ = "0.2.0"

__all__ = [
    "Subject",
    "Tokensmith",
    "UserDirectory",
    "__version__",
    "load_settings",
]

_LAZY: dict[str, str] = {
    "Subject": "tokensmith.core.directory",
    "Tokensmith": "tokensmith.web.integration",
    "UserDirectory": "tokensmith.core.directory",
    "load_settings": "tokensmith.settings",
}

if TYPE_CHECKING:
    from tokensmith.core.directory import Subject, UserDirectory
    from tokensmith.settings import load_settings
    from tokensmith.web.integration import Tokensmith


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tokensmith' has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        line = missing_server_extra(exc, f"tokensmith.{name}")
        if line is None:
            raise
        raise ModuleNotFoundError(line, name=exc.name) from exc
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
