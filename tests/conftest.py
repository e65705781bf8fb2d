"""Shared fixtures: a clean database on SQLite and PostgreSQL, a fake clock, the services."""
from __future__ import annotations

import os
import shutil
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

from app import build
from conversations.clock import FakeClock
from storage.db import Database
from storage.migrate import upgrade
from tests.fakes import RecordingMessenger

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "programme.toml"
PG_ADMIN = os.environ.get("DATABASE_URL_POSTGRES",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime(2026, 9, 1, 6, 0, tzinfo=timezone.utc)


def _postgres_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN, connect_args={"connect_timeout": 20})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


POSTGRES = _postgres_available()
if not POSTGRES:
    warnings.warn("PostgreSQL is NOT reachable at 127.0.0.1:5432: PostgreSQL tests are SKIPPED",
                  stacklevel=1)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url():
    if not POSTGRES:
        pytest.skip("PostgreSQL not reachable (see the warning above)")
    url = create_database("mentor_test")
    yield url
    drop_database(url)


def create_database(prefix: str) -> str:
    """A new PostgreSQL database of our own, migrated; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    return url


def drop_database(url: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def _truncate(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path, sqlite_template) -> Database:
    if request.param == "sqlite":
        path = tmp_path / "mentor.db"
        shutil.copy(sqlite_template, path)
        db = Database(f"sqlite:///{path}")
    else:
        db = Database(request.getfixturevalue("postgres_url"))
        _truncate(db)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_database(tmp_path, sqlite_template) -> Database:
    path = tmp_path / "mentor.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def messenger() -> RecordingMessenger:
    return RecordingMessenger()


@pytest.fixture
def services(database, clock, messenger):
    return build(clock=clock, messenger=messenger, db=database, worker="test")
