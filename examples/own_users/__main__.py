"""``python -m examples.own_users add-user EMAIL [--name N] [--role admin]`` and
``python -m examples.own_users serve [--port 8001]``."""

from __future__ import annotations

import argparse
import asyncio

from examples.own_users.app import add_user, create_app, metadata


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.own_users")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add-user", help="create a user in the app's own table")
    add.add_argument("email")
    add.add_argument("--name", default="")
    add.add_argument("--role", choices=("member", "admin"), default="member")
    serve = commands.add_parser("serve", help="serve the app")
    serve.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    app = create_app()
    if args.command == "add-user":
        engine = app.state.engine

        async def run() -> str:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            try:
                return await add_user(engine, args.email, args.name or args.email, args.role)
            finally:
                await engine.dispose()

        print(f"added {args.email} ({asyncio.run(run())})")
        return
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
