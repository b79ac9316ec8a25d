"""flask-jwt-extended, as its docs recommend: the blocklist in the database
(``token_in_blocklist_loader`` querying a ``TokenBlocklist`` table on every request), refresh
with ``@jwt_required(refresh=True)``; rotation by blocklisting the spent refresh token.

Served with ``gunicorn -w 2 bench.peers.flask_app:app``. ``python -m bench.peers.flask_app seed
N`` creates the tables and N users (``user{i}@peers.bench``) with the shared password.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta

from flask import Flask, jsonify, request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event

from bench.peers import owasp_hasher, peer_database_url

db = SQLAlchemy()
hasher = owasp_hasher()


class User(db.Model):  # type: ignore[name-defined,misc]
    id = db.Column(db.String(36), primary_key=True)
    email = db.Column(db.String(320), unique=True, nullable=False)
    password_hash = db.Column(db.String(255), nullable=False)


class TokenBlocklist(db.Model):  # type: ignore[name-defined,misc]
    id = db.Column(db.Integer, primary_key=True)
    jti = db.Column(db.String(36), nullable=False, index=True)
    created_at = db.Column(db.DateTime, nullable=False)


def create_app() -> Flask:
    app = Flask(__name__)
    url = peer_database_url()
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if url.startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 5}}
    app.config["JWT_SECRET_KEY"] = "bench-flask-secret-0123456789abcdef0123456789"
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(minutes=15)
    app.config["JWT_REFRESH_TOKEN_EXPIRES"] = timedelta(days=7)
    db.init_app(app)
    jwt = JWTManager(app)

    if url.startswith("sqlite"):
        with app.app_context():

            @event.listens_for(db.engine, "connect")
            def _wal(dbapi_connection, _record):  # type: ignore[no-untyped-def]
                dbapi_connection.execute("PRAGMA journal_mode=WAL")
                dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @jwt.token_in_blocklist_loader
    def check_if_token_revoked(jwt_header, jwt_payload):  # type: ignore[no-untyped-def]
        jti = jwt_payload["jti"]
        token = db.session.query(TokenBlocklist.id).filter_by(jti=jti).scalar()
        return token is not None

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return jsonify(status="ok")

    @app.post("/auth/login")
    def login():  # type: ignore[no-untyped-def]
        body = request.get_json()
        user = db.session.query(User).filter_by(email=body["email"].lower()).one_or_none()
        try:
            hasher.verify(user.password_hash if user else DUMMY, body["password"])
        except Exception:
            user = None
        if user is None:
            return jsonify(error="bad credentials"), 401
        return jsonify(
            accessToken=create_access_token(identity=user.id),
            refreshToken=create_refresh_token(identity=user.id),
        )

    @app.post("/auth/refresh")
    @jwt_required(refresh=True)
    def refresh():  # type: ignore[no-untyped-def]
        identity = get_jwt_identity()
        db.session.add(TokenBlocklist(jti=get_jwt()["jti"], created_at=datetime.now(UTC)))
        db.session.commit()
        return jsonify(
            accessToken=create_access_token(identity=identity),
            refreshToken=create_refresh_token(identity=identity),
        )

    @app.get("/orders")
    @jwt_required()
    def orders():  # type: ignore[no-untyped-def]
        return jsonify(user=get_jwt_identity())

    return app


DUMMY = hasher.hash("timing equaliser")


def seed(n: int) -> None:
    app = create_app()
    with app.app_context():
        db.create_all()
        password_hash = hasher.hash("bench-password-123")
        for i in range(n):
            db.session.add(
                User(
                    id=str(uuid.uuid4()), email=f"user{i}@peers.bench", password_hash=password_hash
                )
            )
        db.session.commit()


if __name__ == "__main__":
    if sys.argv[1:2] == ["seed"]:
        seed(int(sys.argv[2]))
else:
    app = create_app()
