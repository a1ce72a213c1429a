"""The tracking store: which one (URI precedence), whether it answers, and the ``mlflow ui`` over it.

Where runs go (first match wins):

1. ``tracking.uri`` in params.yaml,
2. the ``MLFLOW_TRACKING_URI`` environment variable,
3. ``sqlite:///mlruns/mlflow.db`` with artifacts in ``mlruns/artifacts/``.

Relative sqlite and file paths are made absolute against the project root (:func:`paths.project_root`:
``$DVC_ROOT``, the repository above a DVC temporary workspace, the git top level), so queued and
``--temp`` experiments write to the project's store, not to a copy DVC deletes afterwards. A remote
server (``http://...``) is probed with a short timeout before any work starts, so a stopped server
fails in one line instead of after an hour of training.

A local SQLite store is switched to WAL, so a reader such as ``mlflow ui`` never blocks a writer.
A write that finds another writer holding the file waits 20 s (MLflow's busy timeout);
:func:`retry_busy` tries it ``tracking.busy_retries`` more times, then the error says the store
is busy, not gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import mlflow
import sqlalchemy
from mlflow import MlflowClient
from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_TIMEOUT
from mlflow.exceptions import MlflowException

from fashiongan.config import Params
from fashiongan.environ import environment
from fashiongan.errors import FashionGanError
from fashiongan.paths import MLRUNS_DIR, project_root

DEFAULT_URI = f"sqlite:///{MLRUNS_DIR.as_posix()}/mlflow.db"
SECRET_NAME = re.compile(r"token|password|secret|key", re.IGNORECASE)
_REMOTE_SCHEMES = ("http", "https")
_LOCAL_DB_SCHEME = "sqlite"
# MLflow 3's UI opens an experiment in its GenAI view (traces) unless told otherwise; the tag records
# what the experiment holds, the URL query is what makes the UI land on the Runs table.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"
RUNS_VIEW_QUERY = "workflowType=machine_learning"


class UnknownRunError(FashionGanError):
    """A run id (from metrics/train.json, a study, ...) that the tracking store does not hold."""


class TrackingUnavailable(FashionGanError):
    """The tracking store stopped answering during a run (server stopped, network lost, SQLite file busy)."""


_BUSY = ("database is locked", "database is busy")
_wal_files: set[str] = set()  # MLflow's SQLite files (registered by activate)
_busy_retries = 3  # tracking.busy_retries of the last activate()
T = TypeVar("T")


class StoreBusy(TrackingUnavailable):
    """A local SQLite store stayed locked by another writer through every retry."""


def busy(exc: BaseException) -> bool:
    """Whether an error means another process held a SQLite store's write lock past the busy timeout."""
    return any(marker in str(exc) for marker in _BUSY)


def retry_busy(write: Callable[[], T], what: str) -> T:
    """``write()``, tried again up to ``tracking.busy_retries`` times while the store is busy.

    Raises :class:`StoreBusy` in one line when the retries run out; other errors pass through.
    """
    for attempt in range(_busy_retries + 1):
        try:
            return write()
        except MlflowException as exc:
            if not busy(exc):
                raise
            if attempt == _busy_retries:
                raise StoreBusy(busy_message(mlflow.get_tracking_uri(), f"{what}, after {attempt + 1} tries")) from None
            time.sleep(min(2.0**attempt, 10.0))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    """On each new connection to an MLflow SQLite file: the WAL journal (readers never block the writer)."""
    if not isinstance(dbapi_connection, sqlite3.Connection) or not _wal_files:
        return
    cursor = dbapi_connection.cursor()
    try:
        files = {os.path.realpath(row[2]) for row in cursor.execute("PRAGMA database_list") if row[1] == "main" and row[2]}
        if files & _wal_files:
            with contextlib.suppress(sqlite3.OperationalError):  # switching needs a moment without readers
                cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def _tune_sqlite(uri: str, retries: int) -> None:
    """Register the store's file for :func:`_sqlite_wal` (mlflow creates its engine itself); keep ``retries``."""
    global _busy_retries
    _busy_retries = retries
    if urlsplit(uri).scheme != _LOCAL_DB_SCHEME or local_root(uri) is None:
        return
    if not sqlalchemy.event.contains(sqlalchemy.pool.Pool, "connect", _sqlite_wal):
        sqlalchemy.event.listen(sqlalchemy.pool.Pool, "connect", _sqlite_wal)
    _wal_files.add(os.path.realpath(uri[len("sqlite:///") :]))


def redact(value: str) -> str:
    """Hide the password in ``scheme://user:pass@host`` and secret-looking query values."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if not parts.scheme or not parts.netloc:
        return value
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"***@{host}"
    query = "&".join(
        f"{k}=***" if SECRET_NAME.search(k) else f"{k}={v}" if sep else k
        for k, sep, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def resolve_uri(params: Params) -> str:
    """The tracking URI after precedence (params, env, default) with local paths made absolute against the project root."""
    uri = params.tracking.uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    scheme = urlsplit(uri).scheme
    if scheme == _LOCAL_DB_SCHEME:
        prefix = "sqlite:///"
        if not uri.startswith(prefix):
            raise FashionGanError(f"tracking URI {uri} is not a sqlite file URI: write sqlite:///path/to/mlflow.db")
        path = uri[len(prefix) :]
        if path and path != ":memory:" and not path.startswith("/"):
            return prefix + str(project_root() / path)
        return uri
    if scheme == "file":
        return (project_root() / urlsplit(uri).path).as_uri()
    if not scheme:
        return (project_root() / uri).as_uri()
    return uri


def local_root(uri: str) -> Path | None:
    """Folder of a local store (sqlite file's folder or file-store root); None for remote stores."""
    scheme = urlsplit(uri).scheme
    if scheme == _LOCAL_DB_SCHEME:
        path = uri[len("sqlite:///") :]
        return Path(path).parent if path.startswith("/") else None
    if scheme == "file":
        return Path(urlsplit(uri).path)
    return None


def artifact_location(uri: str) -> str | None:
    """Explicit artifact folder for new experiments in a local store: ``<store folder>/artifacts``."""
    root = local_root(uri)
    return (root / "artifacts").as_uri() if root is not None else None


def registry_lock_path(model_name: str) -> Path:
    """The lock file that serialises promotions of ``model_name`` in the active store.

    Beside a local store (every process using it shares the file); for a server, one per user and
    server on this machine, which serialises this machine's promotions only.
    """
    uri = mlflow.get_tracking_uri()
    root = local_root(uri)
    if root is None:
        key = hashlib.sha256(f"{uri}\0{model_name}".encode()).hexdigest()[:16]
        return Path.home() / ".cache" / "fashiongan" / f"registry-{key}.lock"
    return root / f"registry-{re.sub(r'[^A-Za-z0-9_.-]', '_', model_name)}.lock"


@contextmanager
def fast_http(timeout_s: float) -> Iterator[None]:
    """Turn off mlflow's minutes-long HTTP retries for one probe."""
    with environment({MLFLOW_HTTP_REQUEST_MAX_RETRIES.name: "0", MLFLOW_HTTP_REQUEST_TIMEOUT.name: str(max(1, math.ceil(timeout_s)))}):
        yield


_REASONS = (
    ("Connection refused", "connection refused"),
    ("timed out", "timed out"),
    ("Read timed out", "timed out"),
    ("Name or service not known", "unknown host"),
    ("nodename nor servname", "unknown host"),
    ("Temporary failure in name resolution", "unknown host"),
    ("No route to host", "no route to host"),
)


def short_reason(exc: BaseException) -> str:
    """A short cause of an mlflow error (connection refused, timed out, HTTP 503, ...), credentials hidden."""
    text = str(exc)
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    code = re.search(r"error code (\d{3})", text)
    if code:
        return f"HTTP {code.group(1)}"
    first = " ".join(text.split())
    return redact(first[:120]) or type(exc).__name__


_UNREACHABLE = {"connection refused", "timed out", "unknown host", "no route to host"}


def unreachable(exc: BaseException) -> bool:
    """Whether an mlflow error means the store cannot be reached (not a bad request)."""
    return short_reason(exc) in _UNREACHABLE or "Max retries exceeded" in str(exc)


def busy_message(uri: str, when: str) -> str:
    """One line for a local store another process kept locked."""
    return (
        f"tracking store {redact(uri)} busy {when}: another process kept its SQLite file locked (parallel workers, "
        "a long write); raise tracking.busy_retries, or serve the store with `mlflow server` for parallel writers, "
        "and re-run; finished epochs are kept in checkpoints/ and the re-run resumes from them"
    )


def lost_message(uri: str, exc: BaseException, when: str) -> str:
    """One line for a store that went away (or stayed busy) mid-run."""
    if busy(exc):
        return busy_message(uri, when)
    return (
        f"tracking store {redact(uri)} stopped answering {when} ({short_reason(exc)}): restart it and re-run; "
        "finished epochs are kept in checkpoints/ and the re-run resumes from them"
    )


def check_tracking(params: Params) -> str:
    """Resolve the tracking URI and prove the store answers; return the (redacted) URI.

    Remote servers get one request with ``tracking.timeout_s`` and no retries; local stores only
    need their folder. Raises :class:`FashionGanError` in one line otherwise.
    """
    uri = resolve_uri(params)
    scheme = urlsplit(uri).scheme
    root = local_root(uri)
    if root is not None:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FashionGanError(
                f"tracking store folder {root} cannot be created ({exc.strerror}): set tracking.uri or fix permissions"
            ) from None
        return uri
    started = time.monotonic()
    try:
        with fast_http(params.tracking.timeout_s):
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - any failure of the probe means "unreachable"
        what = "tracking server" if scheme in _REMOTE_SCHEMES else "tracking store"
        waited = time.monotonic() - started
        reason = short_reason(exc)
        if reason == "timed out":
            reason = f"timed out after {waited:.0f} s"
        raise FashionGanError(
            f"{what} {redact(uri)} unreachable ({reason}): start it or set tracking.uri / MLFLOW_TRACKING_URI"
        ) from None
    return redact(uri)


def activate(params: Params) -> str:
    """Probe the store and point mlflow (tracking and registry) at it; return the resolved URI."""
    check_tracking(params)
    uri = resolve_uri(params)
    _tune_sqlite(uri, params.tracking.busy_retries)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def client() -> MlflowClient:
    """Client for the store :func:`activate` selected (the registry uses it)."""
    return MlflowClient()


def experiment_id(name: str, uri: str) -> str:
    """Get or create the experiment, with the artifact folder pinned for local stores."""
    found = client().get_experiment_by_name(name)
    if found is None:
        try:
            return client().create_experiment(
                name, artifact_location=artifact_location(uri), tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND}
            )
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            found = client().get_experiment_by_name(name)
    if found is None or found.lifecycle_stage == "deleted":
        raise FashionGanError(
            f"MLflow experiment {name!r} is deleted: restore it (mlflow experiments restore) or set another tracking.experiment"
        )
    if EXPERIMENT_KIND_TAG not in found.tags:  # made before the tag existed, or by someone else
        client().set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND)
    return found.experiment_id


def runs_link(base_url: str, experiment_id: str) -> str:
    """The UI link that opens an experiment's Runs table (Model training mode), not the GenAI overview."""
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}?{RUNS_VIEW_QUERY}"


def ui_links(params: Params, port: int = 5000) -> dict[str, str]:
    """Experiment name -> Runs-table link, for the project's experiments the local store already holds."""
    uri = resolve_uri(params)
    root = local_root(uri)
    store_file = Path(uri.removeprefix("sqlite:///")) if urlsplit(uri).scheme == _LOCAL_DB_SCHEME else root
    if store_file is None or not store_file.exists():  # nothing logged yet: opening it would create it
        return {}
    store = MlflowClient(tracking_uri=uri)
    found = {name: store.get_experiment_by_name(name) for name in (params.tracking.experiment, params.tracking.sweep_experiment)}
    return {name: runs_link(f"http://127.0.0.1:{port}", e.experiment_id) for name, e in found.items() if e is not None}


def ui_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for ``mlflow ui``: without MLflow's GenAI job runner (a second server-sized process), unless asked for."""
    return {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **environ}


def ui_command(params: Params, port: int = 5000) -> list[str]:
    """``mlflow ui`` over the local store, bound to 127.0.0.1, in one worker process (the CLI/Makefile execs it).

    One person browsing needs one worker; MLflow's default of 4 starts four copies of the server,
    each importing MLflow (~10 s of CPU apiece on 2 cores) before the page answers.
    """
    uri = resolve_uri(params)
    root = local_root(uri)
    if root is None:
        raise FashionGanError(
            f"tracking URI {redact(uri)} is a server, not a local store: open it in a browser instead of `mlflow ui`"
        )
    if not 0 < port < 65536:
        raise FashionGanError(f"port {port} is not a TCP port: pass 1-65535")
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri]
    artifacts = artifact_location(uri)
    if artifacts is not None:
        command += ["--default-artifact-root", artifacts]
    return command + ["--workers", "1", "--host", "127.0.0.1", "--port", str(port)]
