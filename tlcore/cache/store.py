"""The cache entries: a table and its record per key, written atomically, checked when read."""
from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tempfile
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..files import file_kind, write_atomic
from .admin import AdminMixin
from .common import (_ASIDE, _KEY, FORMAT, CorruptCacheWarning, _canonical, _NotRegular, _plain, _read_regular,
                     _reason, _versions)
from .locks import LockMixin


class ResultsCache(LockMixin, AdminMixin):
    """Entries ``<folder>/<key>.parquet`` + ``<key>.json``; see the module docstring.

    Opening a cache touches nothing, so a read-only, complete cache can be read; call
    ``check_writable()`` before computing. A lock is stale, and broken by the next ``try_lock``, when
    its holder ran on this host and has exited, or when it is older than ``stale_after`` seconds
    (a holder on another machine cannot be checked otherwise).
    """

    def __init__(self, folder: str | os.PathLike, *, stale_after: float = 6 * 3600.0):
        self.folder = Path(folder)
        self.stale_after = float(stale_after)

    def __repr__(self) -> str:
        return f"ResultsCache({str(self.folder)!r})"

    # ---- paths -----------------------------------------------------------------------------
    def _path(self, key: str, suffix: str) -> Path:
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValueError(f"cache key {key!r} must be letters, digits, '_' or '-'")
        return self.folder / f"{key}{suffix}"

    def record_path(self, key: str) -> Path:
        return self._path(key, ".json")

    def data_path(self, key: str) -> Path:
        return self._path(key, ".parquet")

    def check_writable(self) -> None:
        """Create the folder if needed and prove a file can be written there; else ValueError."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".probe-", suffix=".tmp"):
                pass
        except OSError as exc:
            raise ValueError(f"cache_dir {str(self.folder)!r} is not a writable folder "
                             f"({_reason(exc)})") from None

    # ---- reading and writing ----------------------------------------------------------------
    def get(self, key: str, config: dict, warn: bool = True) -> pd.DataFrame | None:
        """The stored table for ``key`` made from ``config``; None when absent or bad (then a warning,
        unless ``warn`` is false: a second look at a cell already reported)."""
        wanted = _canonical(_plain(config))
        table, _, problem = self._load(key, wanted)
        if problem is not None and warn:
            path, reason = problem
            warnings.warn(f"bad cache entry {path}: {reason}; recomputing it", CorruptCacheWarning,
                          stacklevel=2)
        return table

    def record(self, key: str) -> dict | None:
        """The record stored for ``key`` (configuration, versions, rows, checksum, seconds), or None."""
        table, record, _ = self._load(key, None)
        return record if table is not None else None

    def put(self, key: str, config: dict, table: pd.DataFrame, seconds: float | None = None) -> Path:
        """Store ``table`` for ``key``, parquet first, record last (the commit point); the record's path.

        ``seconds``, the time the cell took to compute, is kept in the record for provenance."""
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"a cache entry must be a pandas DataFrame, got {type(table).__name__}")
        if not all(isinstance(c, str) for c in table.columns):
            raise ValueError(f"cached tables need string column names, got {list(table.columns)!r}")
        record_path, data_path = self.record_path(key), self.data_path(key)
        buf = io.BytesIO()
        table.to_parquet(buf, engine="pyarrow", index=False)
        data = buf.getvalue()
        record = {"format": FORMAT, "key": key, "config": _plain(config), "versions": _versions(config),
                  "rows": len(table), "columns": list(table.columns),
                  "sha256": hashlib.sha256(data).hexdigest(),
                  "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        if seconds is not None:
            record["seconds"] = round(float(seconds), 2)
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in (data_path, record_path):
            self._set_aside(path)
        write_atomic(data_path, data)
        write_atomic(record_path, (json.dumps(record, indent=1) + "\n").encode())
        return record_path

    def _set_aside(self, path: Path) -> None:
        """Rename a folder or other non-regular file found under a cache file's name out of the way
        (``NAME.set-aside-XXXXXXXX``, kept for its owner to look at), with a warning."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            return  # a file (or a link) is simply replaced by the rename
        aside = path.with_name(f"{path.name}{_ASIDE}{uuid.uuid4().hex[:8]}")
        os.rename(path, aside)
        warnings.warn(f"{path} was {file_kind(st.st_mode)}, not a regular file: set aside as {aside.name}",
                      CorruptCacheWarning, stacklevel=3)

    def _load(self, key: str, wanted: str | None):
        """``(table, record, problem)``: problem is None or ``(path, reason)``; never raises.

        ``wanted`` is the canonical configuration the caller asks for; None (maintenance) skips
        that comparison. An absent entry is ``(None, None, None)``.
        """
        record_path, data_path = self.record_path(key), self.data_path(key)
        if not os.path.lexists(record_path):
            if os.path.lexists(data_path) and self._lock_state(key) != "held":
                return None, None, (data_path, "no record next to it (an interrupted write)")
            if os.path.lexists(self._path(key, ".pkl")):
                return None, None, (self._path(key, ".pkl"),
                                    "old pickle format, never loaded (pickles can run code)")
            return None, None, None
        try:
            try:
                record = json.loads(_read_regular(record_path)[0])
            except _NotRegular as exc:
                return None, None, (record_path, f"{exc.strerror}; set aside when the cell is stored")
            except OSError as exc:
                return None, None, (record_path, f"unreadable ({_reason(exc)})")
            except ValueError:
                return None, None, (record_path, "not valid JSON")
            if not isinstance(record, dict):
                return None, None, (record_path, f"record is a JSON {type(record).__name__}, not an object")
            if record.get("format") != FORMAT:
                return None, record, (record_path, f"format {record.get('format')!r}, expected {FORMAT!r}")
            if record.get("key") != key:
                return None, record, (record_path, f"record is for key {record.get('key')!r}, not {key!r}")
            rows, columns, digest = record.get("rows"), record.get("columns"), record.get("sha256")
            if not (isinstance(rows, int) and isinstance(columns, list) and isinstance(digest, str)
                    and "config" in record):
                return None, record, (record_path, "record lacks config, rows, columns or sha256")
            if wanted is not None and _canonical(record["config"]) != wanted:
                return None, record, (record_path, "stored configuration differs from the requested one")
            try:
                data = _read_regular(data_path)[0]
            except FileNotFoundError:
                return None, record, (data_path, "missing: the record has no data file")
            except _NotRegular as exc:
                return None, record, (data_path, f"{exc.strerror}; set aside when the cell is stored")
            except OSError as exc:
                return None, record, (data_path, f"unreadable ({_reason(exc)})")
            if hashlib.sha256(data).hexdigest() != digest:
                return None, record, (data_path, "checksum mismatch (truncated or altered)")
            try:
                table = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
            except Exception as exc:
                return None, record, (data_path, f"not a readable parquet file ({type(exc).__name__})")
            if len(table) != rows or [str(c) for c in table.columns] != columns:
                return None, record, (data_path, f"holds {len(table)} rows x {list(table.columns)}, "
                                                 f"the record says {rows} x {columns}")
            return table, record, None
        except Exception as exc:  # anything unforeseen in a file is still only a bad entry
            return None, None, (record_path, f"unreadable ({type(exc).__name__}: {exc})")
