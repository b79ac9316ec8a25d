"""The core wired to its adapters, from :class:`~tokensmith.settings.Settings`.

Both the web integration and the CLI build their services here, so there is one place that
decides which adapter implements which port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tokensmith.core.accounts import AccountService
from tokensmith.core.audit import AuditTrail
from tokensmith.core.broadcast import RevocationBroadcaster
from tokensmith.core.claims import ClaimsHook
from tokensmith.core.clients import ServiceClients
from tokensmith.core.clock import Clock, SystemClock
from tokensmith.core.directory import UserDirectory
from tokensmith.core.ending import SessionEnder
from tokensmith.core.events import EventHandlers, EventPublisher
from tokensmith.core.feed_cursor import CursorCodec
from tokensmith.core.introspection import Introspector
from tokensmith.core.issuing import Issuer
from tokensmith.core.keys import KeySet, split_pems
from tokensmith.core.outbox import OutboxWorker, OutboxWriter
from tokensmith.core.passwords import OWASP_2023, Argon2Parameters, PasswordHasher
from tokensmith.core.ports import RevocationFeed
from tokensmith.core.recovery import LinkTokens, RecoveryPolicy, RecoveryService
from tokensmith.core.revoker import Revoker
from tokensmith.core.rotation import Rotation, RotationPolicy
from tokensmith.core.sessions import SessionPolicy, SessionService
from tokensmith.core.subjects import Subjects
from tokensmith.core.tokens import TokenCodec, TokenPolicy
from tokensmith.core.user_table import UserTable
from tokensmith.errors import ConfigError, ServiceUnavailable
from tokensmith.settings import Settings
from tokensmith.storage.sql.database import SqlDatabase
from tokensmith.storage.sql.feed import SqlPollingFeed, SqlRevocationLog

if TYPE_CHECKING:
    from limits.aio.storage import Storage

__all__ = [
    "Services",
    "build_access_keys",
    "build_feed",
    "build_service_clients",
    "build_services",
    "close_rate_limit_storage",
    "rate_limit_storage",
]

log = logging.getLogger("tokensmith")

FEED_START_BOUND = timedelta(seconds=5)
"""How long ``Services.start`` waits for the revocation feed to listen."""


def build_access_keys(settings: Settings) -> KeySet:
    if settings.jwt_algorithm == "HS256":
        previous = [s.get_secret_value().encode() for s in settings.jwt_previous_secrets]
        return KeySet.hmac(settings.access_secret, previous)
    assert settings.jwt_private_key_file is not None
    try:
        pem = settings.jwt_private_key_file.read_bytes()
    except OSError as exc:
        raise ConfigError("JWT_PRIVATE_KEY_FILE", f"cannot read: {exc.strerror}") from None
    return KeySet.asymmetric(settings.jwt_algorithm, split_pems(pem))


@dataclass
class Services:
    settings: Settings
    clock: Clock
    database: SqlDatabase
    codec: TokenCodec
    access_keys: KeySet
    hasher: PasswordHasher
    revoker: Revoker
    sessions: SessionService
    accounts: AccountService
    feed: RevocationFeed | None
    subjects: Subjects
    """The user directory and the claims hook (contract 8)."""
    audit: AuditTrail
    """Every audit event passes through here (listeners: the webhook seam)."""
    introspector: Introspector
    rate_limit_storage: Storage | None = None
    """Shared rate-limit counters (Redis) when ``REDIS_URL`` is set; None means in-memory."""
    service_clients: ServiceClients = field(default_factory=lambda: ServiceClients({}))
    """``SERVICE_CLIENTS`` and ``INTROSPECTION_SECRET`` (contract 10)."""
    recovery: RecoveryService | None = None
    """Password reset and email verification (contract 9); None with the app's own directory."""
    outbox: OutboxWriter = field(default_factory=OutboxWriter)
    events: EventHandlers = field(default_factory=EventHandlers)
    """``auth.on(event, handler)``."""
    links: LinkTokens | None = None
    worker: OutboxWorker | None = None
    """The outbox worker of this process, once started."""
    broadcaster: RevocationBroadcaster | None = None
    """The revocation stream for other services (contract 10)."""
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _closers: list[Any] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Services({self.database!r})"

    async def start(self, *, migrate: bool | None = None, outbox_worker: bool = True) -> None:
        """Check the database (upgrading an embedded one), load revocations, start the feed and
        wait (at most ``FEED_START_BOUND``) until it listens, then start the cleanup loop and
        (unless ``outbox_worker=False``, as in the CLI) the outbox worker.
        Raises :class:`ConfigError` naming DATABASE_URL when unreachable."""
        from tokensmith.storage.sql import migrate as migrations

        try:
            await self.database.ping()
            if migrate if migrate is not None else self.database.is_sqlite:
                await migrations.upgrade(self.database)
            cursor = await self.revoker.load(self.database)
        except ServiceUnavailable:
            raise ConfigError("DATABASE_URL", "the database cannot be reached") from None
        except Exception as exc:
            if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3")):
                raise ConfigError(
                    "DATABASE_URL",
                    f"the database is not usable ({type(exc).__name__}); "
                    "run 'tokensmith db upgrade'",
                ) from None
            raise
        if self.feed is not None:
            listening = asyncio.Event()
            self._spawn(self.feed.run(self.revoker.apply, self._resync, cursor, listening.set))
            await self._until_listening(listening)
        if self.broadcaster is not None:
            self._spawn(self.broadcaster.run(cursor))
        self._spawn(self._housekeeping())
        self._spawn(self.database.maintain())
        if outbox_worker:
            self.worker = self.build_worker()
            self.outbox.attach(self.worker.wake)
            self._spawn(self.worker.run())

    def build_worker(self) -> OutboxWorker:
        """The outbox worker, with a deliverer for each configured channel."""
        from tokensmith.delivery.wiring import build_outbox_worker

        worker, closers = build_outbox_worker(
            self.settings, self.database, self.clock, self.links, self.events, self.recovery
        )
        self._closers.extend(closers)
        return worker

    async def readiness(self) -> dict[str, str]:
        """``/readyz``: each dependency as "ok" or "unavailable"."""
        checks: dict[str, str] = {}
        try:
            await self.database.ping()
            checks["database"] = "ok"
        except ServiceUnavailable:
            checks["database"] = "unavailable"
        ping = getattr(self.feed, "ping", None)
        if ping is not None:  # Redis is configured
            checks["redis"] = "ok" if await ping() else "unavailable"
        return checks

    async def _until_listening(self, listening: asyncio.Event) -> None:
        """Return once the feed listens and has read the log past the initial load, so the
        server takes no request before it would see every revocation made elsewhere. Between
        the load and the subscription another instance's logout is neither in the loaded set
        nor delivered: a worker serving then accepted the ended session until its next read of
        the log (seen in CI with ``serve --workers 2``). Bounded: a feed that cannot start
        (the database went away after the check above) must not keep the server down."""
        try:
            await asyncio.wait_for(listening.wait(), FEED_START_BOUND.total_seconds())
        except TimeoutError:
            log.warning(
                "the revocation feed is not listening after %.0f s; serving anyway: "
                "revocations made elsewhere arrive with its next read of the log",
                FEED_START_BOUND.total_seconds(),
            )

    async def _resync(self) -> int:
        return await self.revoker.load(self.database)

    def _spawn(self, coro: Any) -> None:
        self._tasks.append(asyncio.create_task(coro))

    async def _housekeeping(self, every: timedelta = timedelta(minutes=1)) -> None:
        while True:
            await asyncio.sleep(every.total_seconds())
            self.revoker.prune()
            try:
                await self.sessions.cleanup()
                await self._cleanup_recovery()
            except ServiceUnavailable:
                continue
            except Exception:
                log.exception("cleanup failed")

    async def _cleanup_recovery(self, keep_sent: timedelta = timedelta(days=7)) -> None:
        """Expired link tokens go; sent outbox entries are kept a week (``outbox list --all``)."""
        now = self.clock.now()
        async with self.database.transaction(write=True) as uow:
            await uow.tokens.delete_expired(now)
            await uow.outbox.delete_sent(now - keep_sent)

    async def stop(self) -> None:
        if self.broadcaster is not None:
            self.broadcaster.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for close in self._closers:
            with contextlib.suppress(Exception):
                await close()
        self._closers.clear()
        if self.feed is not None:
            await self.feed.close()
        await close_rate_limit_storage(self.rate_limit_storage)
        await self.database.close()
        await self.hasher.aclose()


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    argon2: Argon2Parameters = OWASP_2023,
    feed: RevocationFeed | None = None,
    users: UserDirectory | None = None,
    claims: ClaimsHook | None = None,
) -> Services:
    """Every service from ``settings``. ``users`` is the app's user directory (default:
    tokensmith's own user table); ``claims`` the hook adding claims to access tokens."""
    clock = clock or SystemClock()
    database = SqlDatabase(settings.resolved_database_url)
    access_keys = build_access_keys(settings)
    codec = TokenCodec(
        access_keys,
        KeySet.hmac(settings.refresh_secret),
        TokenPolicy(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            access_ttl=settings.jwt_expires_in,
            refresh_ttl=settings.jwt_refresh_expires_in,
            leeway=settings.jwt_clock_tolerance,
        ),
        clock,
    )
    if feed is None:
        feed = build_feed(settings, database)
    revoker = Revoker(
        clock, access_ttl=settings.jwt_expires_in, leeway=settings.jwt_clock_tolerance, feed=feed
    )
    table = UserTable(database)
    subjects = Subjects(users or table, claims, table=None if users is not None else table)
    audit = AuditTrail()
    ender = SessionEnder(database, revoker, audit, clock)
    issuer = Issuer(codec)
    rotation = Rotation(
        database,
        codec,
        issuer,
        subjects,
        ender,
        audit,
        RotationPolicy(
            refresh_ttl=settings.jwt_refresh_expires_in, reuse_grace=settings.refresh_reuse_grace
        ),
        clock,
    )
    sessions = SessionService(
        database,
        codec,
        revoker,
        SessionPolicy(
            refresh_ttl=settings.jwt_refresh_expires_in,
            max_age=settings.session_max_age,
            reuse_grace=settings.refresh_reuse_grace,
            short_max_age=settings.session_short_max_age,
            max_per_user=settings.max_sessions_per_user,
        ),
        clock,
        subjects=subjects,
        ender=ender,
        rotation=rotation,
        issuer=issuer,
        trail=audit,
    )
    hasher = PasswordHasher(argon2)
    outbox = OutboxWriter()
    events = EventHandlers()
    publisher = EventPublisher(outbox, events, webhook=bool(settings.webhook_url))
    audit.add_listener(publisher, ignores=EventPublisher.SILENT, wants=publisher.wants)
    links = LinkTokens(settings.refresh_secret) if users is None else None
    recovery = (
        RecoveryService(
            database,
            hasher,
            ender,
            audit,
            outbox,
            links,
            clock,
            table=table,
            policy=RecoveryPolicy(
                reset_ttl=settings.password_reset_expires_in,
                verification_ttl=settings.email_verification_expires_in,
            ),
        )
        if links is not None
        else None
    )
    accounts = AccountService(
        database,
        hasher,
        sessions,
        clock,
        table=table,
        subjects=subjects,
        ender=ender,
        trail=audit,
        registration_open=settings.registration == "open",
        require_verified_email=settings.require_verified_email,
        on_new_account=(
            recovery.mail_verification
            if recovery is not None and settings.require_verified_email
            else None
        ),
    )
    services = Services(
        settings,
        clock,
        database,
        codec,
        access_keys,
        hasher,
        revoker,
        sessions,
        accounts,
        feed,
        subjects,
        audit,
        Introspector(codec, sessions, subjects),
        rate_limit_storage(settings),
        build_service_clients(settings),
        recovery=recovery,
        outbox=outbox,
        events=events,
        links=links,
    )
    services.broadcaster = RevocationBroadcaster(
        SqlRevocationLog(database),
        CursorCodec(settings.refresh_secret),
        clock,
        heartbeat=settings.revocation_stream_heartbeat,
        buffer=settings.revocation_stream_buffer,
    )
    revoker.listeners.append(services.broadcaster.wake)
    return services


def build_service_clients(settings: Settings) -> ServiceClients:
    introspection = settings.introspection_secret
    return ServiceClients(
        {c.client_id: c.secret.get_secret_value().encode() for c in settings.service_clients},
        introspection_secret=introspection.get_secret_value().encode() if introspection else None,
    )


def build_feed(settings: Settings, database: SqlDatabase) -> RevocationFeed:
    """Redis pub/sub (with the database log as backstop) when ``REDIS_URL`` is set; else the
    database log alone, which is enough for the workers of one machine."""
    if settings.redis_url:
        from tokensmith.storage.redis.feed import RedisRevocationFeed

        return RedisRevocationFeed(settings.redis_url, database)
    return SqlPollingFeed(database)


def rate_limit_storage(settings: Settings) -> Storage | None:
    """The ``limits`` Redis storage for ``REDIS_URL`` (redis-py, fail-fast timeouts), or None."""
    if not settings.redis_url:
        return None
    from limits.aio.storage import RedisStorage

    url = settings.redis_url
    scheme, rest = url.split("://", 1)
    limits_scheme = {"redis": "async+redis", "rediss": "async+rediss", "unix": "async+redis+unix"}
    return RedisStorage(
        f"{limits_scheme[scheme]}://{rest}",
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix="tokensmith",
        socket_timeout=0.3,
        socket_connect_timeout=0.3,
    )


async def close_rate_limit_storage(storage: Storage | None) -> None:
    """Close the Redis client under a ``limits`` storage (``limits`` has no close of its own)."""
    client = getattr(getattr(storage, "bridge", None), "storage", None)
    close = getattr(client, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()
