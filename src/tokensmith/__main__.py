"""``python -m tokensmith`` and the ``tokensmith`` command.

The command line needs the server extra (click, rich, and for ``serve`` the whole service). In a
base install (the Python client and the verifier only) it says in one line what to install
instead of ending in a traceback.
"""

from __future__ import annotations

import sys

from tokensmith._extras import missing_server_extra

__all__ = ["main"]


def main() -> None:
    try:
        from tokensmith.cli.main import main as cli_main
    except ModuleNotFoundError as exc:
        line = missing_server_extra(exc, "the tokensmith command")
        if line is None:
            raise
        print(f"tokensmith: {line}", file=sys.stderr)
        sys.exit(2)
    cli_main()


if __name__ == "__main__":
    main()
