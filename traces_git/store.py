"""Read the Traces CLI's local SQLite store, whatever its schema version.

The CLI writes to the store while agents run, so we open it read-only with a
short busy timeout, keep each read short, and close it at once. Columns are
discovered (``PRAGMA table_info``): schemas 3, 4 and 16 are all in the wild.
"""

from __future__ import annotations

import os

from traces_git.errors import StoreError

TYPE_CHECKING = False  # typing costs ~3 ms to import on the hook path
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from types import ModuleType


def _load_sqlite3() -> ModuleType:
    """The C module ``_sqlite3``, imported without ``functools`` where that is safe.

    The ``sqlite3`` package adds only datetime adapters we never use (datetime,
    collections.abc: ~4 ms of every hook run that reads the store). The C module itself
    imports ``functools`` for one thing, ``lru_cache`` (its statement cache), and
    functools imports collections: another ~2.5 ms. While it loads, a stand-in module
    gives it functools' own C cache; the stand-in is gone from ``sys.modules`` right
    after, so every later ``import functools`` gets the real one. Where functools is
    loaded already, or anything about the stand-in fails, the plain import.
    """
    import sys

    _sqlite3: ModuleType
    if "functools" not in sys.modules:
        try:
            from _functools import _lru_cache_wrapper  # type: ignore[import-not-found]

            def lru_cache(
                maxsize: int | None = 128, typed: bool = False
            ) -> Callable[[Callable[..., object]], Callable[..., object]]:
                def decorate(function: Callable[..., object]) -> Callable[..., object]:
                    return _lru_cache_wrapper(function, maxsize, typed, _cache_info)

                return decorate

            stand_in = type(sys)("functools")
            vars(stand_in)["lru_cache"] = lru_cache
            sys.modules["functools"] = stand_in
            try:
                import _sqlite3
            finally:
                if sys.modules.get("functools") is stand_in:
                    del sys.modules["functools"]
            return _sqlite3
        except Exception:  # noqa: BLE001, S110 - a Python whose _sqlite3 wants more: below
            pass
    try:
        import _sqlite3
    except ImportError:  # an interpreter that ships the module under another layout
        import sqlite3 as _sqlite3
    return _sqlite3


def _cache_info(
    hits: int, misses: int, maxsize: int | None, currsize: int
) -> tuple[int, int, int | None, int]:
    return (hits, misses, maxsize, currsize)


sqlite3 = _load_sqlite3()

BUSY_TIMEOUT_S = 0.25

# Columns whose names changed between schema versions: first present wins.
_URL_COLUMNS = ("remote_url", "shared_url")
_VISIBILITY_COLUMNS = ("remote_visibility", "shared_visibility")


class _Record:
    """A small value object (dataclasses costs ~8 ms to import on every hook run)."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, *args: object, **kwargs: object):
        for name, value in zip(self.__slots__, args, strict=False):
            object.__setattr__(self, name, value)
        for name in self.__slots__[len(args) :]:
            object.__setattr__(self, name, kwargs.pop(name, None))
        if kwargs:
            raise TypeError(f"unexpected fields: {', '.join(kwargs)}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Trace(_Record):
    __slots__ = (
        "id",
        "agent_id",
        "title",
        "timestamp_ms",
        "directory",
        "shared_url",
        "visibility",
        "git_remote_url",
        "git_branch",
        "git_ref",
        "created_at_ms",
    )
    id: str
    agent_id: str | None
    title: str | None
    timestamp_ms: float | None
    directory: str | None
    shared_url: str | None
    visibility: str | None
    git_remote_url: str | None
    git_branch: str | None
    git_ref: str | None
    created_at_ms: float | None


class Event(_Record):
    __slots__ = ("row_id", "event_id", "data")
    row_id: int
    event_id: str
    data: dict


def _uri_path(path: str) -> str:
    """Percent-encode what SQLite's URI parser would misread (urllib costs an import)."""
    return "".join(
        c
        if c.isalnum() or c in "/-_.~"
        else "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogateescape"))
        for c in path
    )


def _read_only_fs(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def locate_path(configured: str | None = None) -> str:
    """The store path the Traces CLI would use (``traces.store`` config wins).

    The path is returned even when no file exists there; callers check.
    """
    if configured:
        return os.path.expanduser(configured)
    data_home = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):
        data_home = os.path.join(os.path.expanduser("~"), ".local", "share")
    data_dir = os.path.join(data_home, "traces")
    env = os.environ.get("TRACES_EVENTSTORE")
    if env:
        return env if os.path.isabs(env) else os.path.join(data_dir, env)
    default = os.path.join(data_dir, "traces.db")
    if os.path.exists(default):
        return default
    legacy_dir = os.path.join(os.path.expanduser("~"), ".traces")
    for name in ("traces.db", "events.db"):
        if os.path.exists(os.path.join(legacy_dir, name)):
            return os.path.join(legacy_dir, name)
    return default


def locate(configured: str | None = None) -> Path:
    """:func:`locate_path` as a Path."""
    from pathlib import Path

    return Path(locate_path(configured))


class Store:
    """A read-only view of one store file. Use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]):
        self._path = os.fspath(path)
        if not os.path.isfile(self._path):
            raise StoreError(f"no Traces store at {self._path}")
        uri = f"file:{_uri_path(self._path)}?mode=ro"
        try:
            try:
                self._db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
                self.user_version = self._db.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.OperationalError:
                if not self._immutable_is_exact():
                    raise
                # A WAL-mode store in a directory we cannot write (a read-only file system
                # or HOME): SQLite cannot create its -shm file there. With no -wal file,
                # everything is in the main file, and "immutable" reads it as it is.
                self.close()
                self._db = sqlite3.connect(f"{uri}&immutable=1", uri=True, timeout=BUSY_TIMEOUT_S)
                self.user_version = self._db.execute("PRAGMA user_version").fetchone()[0]
            self._db.execute("PRAGMA query_only = 1")
            self.trace_columns = self._columns("traces")
            self.event_columns = self._columns("events")
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot read the Traces store {self._path}: {exc}") from exc
        if "id" not in self.trace_columns:
            self.close()
            raise StoreError(
                f"unknown Traces store schema (user_version {self.user_version}) at {self._path}"
            )

    def _immutable_is_exact(self) -> bool:
        """No writer's frames wait in a -wal file (missing or empty), and the directory
        refuses the -shm file a WAL reader needs: then an immutable open misses nothing."""
        try:
            if os.path.getsize(f"{self._path}-wal") > 0:
                return False
        except OSError:
            pass
        return not os.access(os.path.dirname(os.path.abspath(self._path)), os.W_OK) or (
            _read_only_fs(self._path)
        )

    @property
    def path(self) -> Path:
        from pathlib import Path

        return Path(self._path)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}

    def _trace_select(self) -> str:
        def pick(*names: str) -> str:
            for name in names:
                if name in self.trace_columns:
                    return name
            return "NULL"

        return ", ".join(
            [
                "id",
                pick("agent_id"),
                pick("title"),
                pick("timestamp"),
                pick("directory"),
                pick(*_URL_COLUMNS),
                pick(*_VISIBILITY_COLUMNS),
                pick("git_remote_url"),
                pick("git_branch"),
                pick("git_ref"),
                pick("created_at"),
            ]
        )

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the Traces store {self._path}: {exc}") from exc

    @staticmethod
    def _trace(row: tuple) -> Trace:
        def number(value: float | str | bytes | None) -> float | None:
            try:
                return float(value) if value is not None else None
            except (TypeError, ValueError):
                return None

        return Trace(
            id=str(row[0]),
            agent_id=row[1],
            title=row[2],
            timestamp_ms=number(row[3]),
            directory=row[4],
            shared_url=row[5] or None,
            visibility=row[6],
            git_remote_url=row[7],
            git_branch=row[8],
            git_ref=row[9],
            created_at_ms=number(row[10]),
        )

    def active_since(self, since_ms: float) -> list[Trace]:
        """Traces whose last activity is at or after ``since_ms``."""
        if "timestamp" not in self.trace_columns:
            return []
        rows = self._query(
            f"SELECT {self._trace_select()} FROM traces WHERE timestamp >= ?", (since_ms,)
        )
        return [self._trace(r) for r in rows]

    def active_before(self, until_ms: float, limit: int = 200) -> list[Trace]:
        """The ``limit`` traces last active most recently before ``until_ms``."""
        if "timestamp" not in self.trace_columns:
            return []
        rows = self._query(
            f"SELECT {self._trace_select()} FROM traces WHERE timestamp < ?"
            " ORDER BY timestamp DESC LIMIT ?",
            (until_ms, limit),
        )
        return [self._trace(r) for r in rows]

    def active_anywhere_since(self, since_ms: float) -> bool:
        """Is any trace (of any directory) active at or after ``since_ms``? (indexed)"""
        if "timestamp" not in self.trace_columns:
            return False
        return bool(self._query("SELECT 1 FROM traces WHERE timestamp >= ? LIMIT 1", (since_ms,)))

    def get(self, trace_ids: list[str]) -> dict[str, Trace]:
        if not trace_ids:
            return {}
        marks = ",".join("?" * len(trace_ids))
        rows = self._query(
            f"SELECT {self._trace_select()} FROM traces WHERE id IN ({marks})", tuple(trace_ids)
        )
        return {row[0]: self._trace(row) for row in rows}

    def by_source_path(self, path: str) -> Trace | None:
        """The trace whose agent session file is ``path`` (as written, or resolved)."""
        if "source_path" not in self.trace_columns or not path:
            return None
        wanted = {path, os.path.realpath(path)}
        marks = ",".join("?" * len(wanted))
        rows = self._query(
            f"SELECT {self._trace_select()} FROM traces WHERE source_path IN ({marks})"
            " ORDER BY rowid DESC LIMIT 1",
            tuple(wanted),
        )
        return self._trace(rows[0]) if rows else None

    def events(self, trace_id: str, after_row: int = 0) -> Iterator[Event]:
        """The trace's events in store order, skipping rows that are not JSON objects."""
        rows = self._query(
            "SELECT id, event_id, event_json FROM events WHERE trace_id = ? AND id > ? ORDER BY id",
            (trace_id, after_row),
        )
        import json

        for row_id, event_id, raw in rows:
            try:
                data = json.loads(raw)
            except (TypeError, ValueError):
                continue
            if isinstance(data, dict):
                yield Event(row_id=row_id, event_id=str(event_id), data=data)

    def tool_calls(self, trace_id: str) -> Iterator[dict]:
        """The events of a trace that may record edits: its ``tool_call`` events and its
        ``workspace.edit`` system events (``edit_tools.event_files`` reads them).

        A tool call comes as ``{"type": "tool_call", "toolName": ..., "args": ...}`` with
        the text, array and object values of its ``args`` (or ``args`` itself when it is
        a string). SQLite's JSON functions take them apart, so the post-commit hook imports
        json only for an array or object argument (a shell command as a list); without
        them, Python parses the events whole.
        """
        try:
            rows = self._db.execute(
                "SELECT e.id, json_extract(e.event_json, '$.toolName'), j.key, j.value, j.type"
                " FROM events e, json_each(e.event_json, '$.args') j"
                " WHERE e.trace_id = ? AND e.event_json LIKE ? AND json_valid(e.event_json)"
                " AND json_extract(e.event_json, '$.type') = 'tool_call'"
                " AND j.type IN ('text', 'array', 'object') ORDER BY e.id",
                (trace_id, '%"tool_call"%'),
            ).fetchall()
        except sqlite3.Error:
            yield from self._tool_calls_parsed(trace_id)
            return
        calls: dict[int, dict] = {}
        for row_id, tool_name, key, value, kind in rows:
            call = calls.setdefault(
                row_id, {"type": "tool_call", "toolName": tool_name, "args": {}}
            )
            if kind != "text":
                import json  # an array or object argument only

                try:
                    value = json.loads(value)
                except (TypeError, ValueError):
                    continue
            if key is None:
                call["args"] = value
            elif isinstance(call["args"], dict):
                call["args"][key] = value
        yield from calls.values()
        yield from self._workspace_edits(trace_id)

    def _workspace_edits(self, trace_id: str) -> Iterator[dict]:
        rows = self._query(
            "SELECT event_json FROM events WHERE trace_id = ? AND event_json LIKE ?",
            (trace_id, "%workspace.edit%"),
        )
        if not rows:
            return
        import json

        for (raw,) in rows:
            try:
                data = json.loads(raw)
            except (TypeError, ValueError):
                continue
            if isinstance(data, dict) and data.get("type") == "system_event":
                yield data

    def _tool_calls_parsed(self, trace_id: str) -> Iterator[dict]:
        rows = self._query(
            "SELECT event_json FROM events WHERE trace_id = ? AND (event_json LIKE ?"
            " OR event_json LIKE ?)",
            (trace_id, '%"tool_call"%', "%workspace.edit%"),
        )
        import json

        for (raw,) in rows:
            try:
                data = json.loads(raw)
            except (TypeError, ValueError):
                continue
            if isinstance(data, dict) and data.get("type") in ("tool_call", "system_event"):
                yield data

    def index_state(self, trace_id: str) -> tuple[str | None, float | None]:
        """(the trace's session file, when the store wrote its last event in ms or None
        without events): what ``freshness`` compares with the session file's mtime."""
        source = None
        if "source_path" in self.trace_columns:
            rows = self._query("SELECT source_path FROM traces WHERE id = ?", (trace_id,))
            source = rows[0][0] if rows and isinstance(rows[0][0], str) else None
        column = "created_at" if "created_at" in self.event_columns else "NULL"
        rows = self._query(
            f"SELECT {column} FROM events WHERE trace_id = ? ORDER BY id DESC LIMIT 1",
            (trace_id,),
        )
        if not rows:
            return source, None
        try:
            written = float(rows[0][0]) if rows[0][0] is not None else 0.0
        except (TypeError, ValueError):
            written = 0.0
        return source, written

    def has_events(self, trace_ids: list[str]) -> set[str]:
        """Which of ``trace_ids`` have at least one event in the store (indexed lookups)."""
        found = set()
        for trace_id in trace_ids:
            if self._query("SELECT 1 FROM events WHERE trace_id = ? LIMIT 1", (trace_id,)):
                found.add(trace_id)
        return found

    def last_event(self, trace_id: str) -> tuple[float | None, float | None]:
        """(the ``timestamp`` of the trace's last stored event, when the store wrote it),
        both in ms; (None, None) without events. The last event by store order."""
        rows = self._query(
            "SELECT json_extract(event_json, '$.timestamp'), created_at FROM events"
            " WHERE trace_id = ? AND json_valid(event_json) ORDER BY id DESC LIMIT 1",
            (trace_id,),
        )
        if not rows:
            return None, None

        def number(value: float | str | bytes | None) -> float | None:
            try:
                return float(value) if value is not None else None
            except (TypeError, ValueError):
                return None

        return number(rows[0][0]), number(rows[0][1])

    def in_directory_before(
        self, roots: list[str], since_ms: float, limit: int = 50
    ) -> list[tuple[Trace, float | None]]:
        """Traces of a directory in (or below) one of ``roots`` whose row timestamp is before
        ``since_ms``, each with its last event's timestamp (a Codex row keeps the session's
        start: its last event says when it was last active). Most recent first."""
        if "timestamp" not in self.trace_columns or "directory" not in self.trace_columns:
            return []
        where: list[str] = []
        params: list[float | str] = [since_ms]
        for root in roots:
            where.append("directory = ? OR substr(directory, 1, ?) = ?")
            params += [root, len(root) + 1, root.rstrip("/") + "/"]
        rows = self._query(
            f"SELECT {self._trace_select()}, (SELECT json_extract(e.event_json, '$.timestamp')"
            " FROM events e WHERE e.trace_id = traces.id AND json_valid(e.event_json)"
            " ORDER BY e.id DESC LIMIT 1) FROM traces"
            f" WHERE timestamp < ? AND ({' OR '.join(where)}) ORDER BY timestamp DESC LIMIT ?",
            (*params, limit),
        )
        out = []
        for row in rows:
            try:
                last = float(row[-1]) if row[-1] is not None else None
            except (TypeError, ValueError):
                last = None
            out.append((self._trace(row[:-1]), last))
        return out

    def endpoint(self) -> str | None:
        try:
            row = self._db.execute(
                "SELECT value FROM store_metadata WHERE key = 'api_endpoint'"
            ).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None
