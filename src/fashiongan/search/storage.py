"""Where a study lives and how workers lock it: the Optuna RDB storage (SQLite or PostgreSQL) and the study lock.

Every worker, on this machine or another, claims its next trial under a storage-wide lock (a file
lock for SQLite, an advisory lock for PostgreSQL); both are released by the operating system or
the server when the holder dies, so a killed worker never leaves the study locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial

from fashiongan.config import Params
from fashiongan.errors import FashionGanError
from fashiongan.paths import OPTUNA_DB_NAME, SWEEPS_DIR

MAX_RETRY = 3  # a trial whose worker keeps dying is given up (FAIL, counted) after this many retries


def storage_url(params: Params, out_dir: Path = SWEEPS_DIR) -> str:
    """``search.storage``, or the SQLite file in the sweep folder."""
    return params.search.storage or f"sqlite:///{Path(out_dir) / OPTUNA_DB_NAME}"


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url.split("@")[-1]


def with_driver(url: str) -> str:
    """``postgresql://`` with the installed driver: SQLAlchemy 2.1 defaults to psycopg 3, we ship psycopg2."""
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.drivername == "postgresql":
        import importlib.util

        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
            return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return url


def _dialect(url: str) -> str:
    try:
        return sqlalchemy.engine.make_url(url).get_backend_name()
    except sqlalchemy.exc.ArgumentError:
        raise FashionGanError(
            f"search.storage {redact(url)!r} is not a database URL: use null (SQLite in sweeps/) "
            "or postgresql://user:password@host:5432/db"
        ) from None


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence Optuna's notes on the experimental heartbeat API and on ask() with heartbeats.

    Trials are claimed with ``ask()`` under the study lock and get a heartbeat thread of our own.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        yield


def check_storage_url(url: str) -> str:
    """The URL's dialect, if the sweep can lock a study in it (sqlite or postgresql)."""
    dialect = _dialect(url)
    if dialect not in ("sqlite", "postgresql"):
        raise FashionGanError(
            f"search.storage {redact(url)}: only sqlite:/// and postgresql:// storages are supported "
            "(the sweep locks the study through them)"
        )
    return dialect


def open_storage(url: str, heartbeat_s: int) -> RDBStorage:
    """An RDB storage with heartbeats, or a one-line error naming the URL and the fix."""
    dialect = check_storage_url(url)
    engine_kwargs: dict[str, Any] = {}
    if dialect == "sqlite":
        database = sqlalchemy.engine.make_url(url).database
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise FashionGanError(
                    f"cannot create the folder of the Optuna storage {redact(url)} ({exc.strerror}): fix search.storage "
                    "or the folder's permissions"
                ) from None
        engine_kwargs["connect_args"] = {"timeout": 60}  # parallel workers wait for the write lock
    else:
        engine_kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        # Two processes creating the tables of a fresh database at once would collide: serialise.
        with StudyLock(url, "storage-init"), quiet():
            storage = RDBStorage(
                with_driver(url),
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_s,
                grace_period=2 * heartbeat_s,
                heartbeat_stale_trial_callback=RetryAndRemember(max_retry=MAX_RETRY, inherit_intermediate_values=True),
            )
            if dialect == "sqlite":
                _enable_wal(storage.engine)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as exc:
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise FashionGanError(
            f"cannot open the Optuna storage {redact(url)} ({first}): start the database server or "
            "fix search.storage (null = sqlite:///sweeps/optuna.db)"
        ) from None
    if dialect == "sqlite":
        sqlalchemy.event.listen(storage.engine, "connect", _sqlite_sync)
        storage.engine.dispose()  # reconnect with the pragma
    return storage


class RetryAndRemember(RetryHeartbeatStaleTrialCallback):
    """Optuna's retry of a stale trial, remembering the trial so the sweep can close its MLflow run."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failed: list[FrozenTrial] = []

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        super().__call__(study, trial)
        self.failed.append(trial)

    def take(self) -> list[FrozenTrial]:
        """The trials failed since the last call."""
        failed, self.failed = self.failed, []
        return failed


def _enable_wal(engine: sqlalchemy.Engine) -> None:
    """WAL journal, so readers never block the writer; it is a property of the file, set once.

    Called under the storage-init lock: switching the journal needs the database to itself, and
    two connections switching it at once fail at once ("database is locked", no busy wait).
    """
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")


def _sqlite_sync(dbapi_connection: Any, _record: Any) -> None:
    """A WAL commit without fsync (a connection's setting; still durable across SIGKILL)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class StudyLock:
    """A lock every worker of a study takes to claim a trial: flock for SQLite, advisory for PostgreSQL.

    Both are released by the operating system or the server when the holder dies, so a killed
    worker never leaves the study locked.
    """

    def __init__(self, url: str, study_name: str) -> None:
        self._url = url
        self._key = zlib.crc32(study_name.encode())
        self._dialect = _dialect(url)
        self._engine: sqlalchemy.Engine | None = None
        self._conn: sqlalchemy.Connection | None = None
        self._fh: Any = None
        self._local = threading.Lock()

    def __enter__(self) -> StudyLock:
        self._local.acquire()
        if self._dialect == "sqlite":
            database = sqlalchemy.engine.make_url(self._url).database or ""
            if database and database != ":memory:":
                self._fh = open(f"{database}.lock", "a")  # noqa: SIM115 - held until __exit__
                fcntl.flock(self._fh, fcntl.LOCK_EX)
        else:
            if self._engine is None:
                self._engine = sqlalchemy.create_engine(
                    with_driver(self._url), poolclass=sqlalchemy.pool.NullPool, connect_args={"connect_timeout": 10}
                )
            self._conn = self._engine.connect()
            self._conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": self._key})
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fh is not None:
                fcntl.flock(self._fh, fcntl.LOCK_UN)
                self._fh.close()
                self._fh = None
            if self._conn is not None:
                self._conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                self._conn.close()
                self._conn = None
        finally:
            self._local.release()
