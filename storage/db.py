"""Database engine and sessions: SQLite by default, PostgreSQL when DATABASE_URL says so."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session, create_engine

DEFAULT_URL = "sqlite:///mentor.db"
CONNECT_SECONDS = 5
PING_AFTER_IDLE = 1.0  # seconds in the pool after which a connection is checked before use


def database_url() -> str:
    """The default: a file beside the program. DATABASE_URL is read by bot/settings.py and
    handed over by app.py."""
    return DEFAULT_URL


def make_engine(url: str | None = None) -> Engine:
    """`hide_parameters`: a database error must never carry a private note into a log."""
    url = url or database_url()
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A server that accepts the connection and then says nothing must not hold a thread
    # (and whoever waits on it) for minutes: give up connecting after a few seconds.
    engine = create_engine(url, pool_size=5, max_overflow=10, hide_parameters=True,
                           connect_args={"connect_timeout": CONNECT_SECONDS})
    event.listen(engine, "checkin", _stamp)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


def _stamp(_dbapi_conn, record) -> None:
    record.info["returned"] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, _proxy) -> None:
    """A connection that sat in the pool may have been cut (the server restarted): it is asked
    `SELECT 1` first, and replaced if that fails. One in steady use is not asked: pinging on
    every checkout cost a round trip per unit of work, five per chat command. (A connection cut
    while in use fails that unit of work, and the pool drops every connection it holds.)"""
    if time.monotonic() - record.info.get("returned", 0.0) < PING_AFTER_IDLE:
        return
    try:
        dbapi_conn.execute("SELECT 1")
        dbapi_conn.rollback()
    except Exception as error:
        raise DisconnectionError(type(error).__name__) from error


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the console and the server read while one writes; foreign keys are off by default.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error, so nothing is half-written."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class Database:
    """The engine plus units of work; what the rest of the program holds to reach storage."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
        self.engine = make_engine(self.url)

    def unit(self):
        return session_scope(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


# What callers outside storage/ catch, without importing the database toolkit themselves.
from sqlalchemy.exc import IntegrityError as Duplicate  # noqa: E402
from sqlalchemy.exc import InterfaceError, OperationalError  # noqa: E402

Unavailable = (OperationalError, InterfaceError)
__all__ = ["Database", "Duplicate", "Unavailable", "make_engine", "session_scope"]
