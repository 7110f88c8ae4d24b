"""A results cache on disk that holds data only, survives killed jobs and is shared by concurrent sweeps.

Each entry is a table stored as two files named by its key ``K``: ``K.parquet`` (the pandas
DataFrame, without its index) and ``K.json``, the record that describes it (format, key, full
configuration, library versions, row and column counts, SHA-256 of the parquet bytes, time).
Nothing is ever unpickled: reading an entry parses JSON and parquet only, so a planted file cannot
run code. Both files are written to a temporary file in the same folder, flushed to disk and
renamed into place, the parquet first and the record last: the record is the commit point, so a
killed job leaves no entry that looks whole. Every entry is checked when read (record, key,
configuration, checksum, counts); any problem gives a ``CorruptCacheWarning`` naming the file and
the reason, and the cell is recomputed; nothing about a bad file raises. A FIFO, folder or other
non-regular file under a cache file's name is reported without being opened (a FIFO would block
the reader) and set aside as ``NAME.set-aside-XXXXXXXX`` when the cell is stored.

Concurrent sweeps share the work through a lock file per cell, ``K.lock``, made with ``O_EXCL``
(atomic on local disks and on NFS v3+). A lock records its holder's host, pid, boot identifier and
process start time, so a pid that is alive again after a reboot or a container restart, as another
process, does not hold the cell; a broken stale lock and a wait for a live one are each said once
(``StaleLockWarning``, ``CellWaitWarning``). The protocol for one cell::

    table = cache.get(key, config)
    while table is None:
        lock = cache.try_lock(key)
        if lock is None:                       # someone else computes it: wait for their result
            table = cache.wait_for(key, config)
            continue                           # None: they gave up or died; try to take it over
        with lock:
            table = cache.get(key, config)     # they may have finished just before we locked
            if table is None:
                table = compute()
                cache.put(key, config, table)  # put before the lock goes
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import re
import socket
import stat
import sys
import tempfile
import time
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd

from .files import file_kind, write_atomic

__all__ = ["config_key", "ResultsCache", "CellLock", "CorruptCacheWarning", "StaleLockWarning", "CellWaitWarning",
           "main"]

FORMAT = "tlcore-cache/2"
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")  # no dots, no slashes: a key is one plain file stem
_HOST = socket.gethostname()
_GRACE = 3600.0  # seconds before prune treats an unlocked temporary or record-less file as debris
_UNREADABLE_LOCK_GRACE = 60.0  # a lock file is empty only between its creation and its first write
_ASIDE = ".set-aside-"  # the infix of a non-regular file moved away from a cache file's name


class CorruptCacheWarning(UserWarning):
    """A cache file could not be read back; its cell will be recomputed."""


class StaleLockWarning(UserWarning):
    """A cell's lock was left by a holder that has gone (or held too long) and was broken."""


class CellWaitWarning(UserWarning):
    """A cell is being computed by another party; this sweep waits for its result."""


def _plain(value):
    """JSON-able form of a configuration value (tuples become lists, numpy scalars numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [_plain(v) for v in dataclasses.astuple(value)]  # Protocol(2, 1) keys like (2, 1)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"configuration value {value!r} ({type(value).__name__}) cannot be part of a cache key")


def _canonical(plain) -> str:
    return json.dumps(plain, sort_keys=True, separators=(",", ":"))


def config_key(config: dict) -> str:
    """A stable hex key for a configuration: same values, same key, whatever the dict order."""
    text = json.dumps(_plain(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class _NotRegular(OSError):
    """Something other than a regular file (a folder, a FIFO) where a cache file should be."""


def _read_regular(path: Path, limit: int | None = None) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file and its stat; ``_NotRegular`` for anything else.

    Opened with ``O_NONBLOCK`` and checked with ``fstat`` before any read, so a FIFO planted under
    a cache file's name is reported, never waited on."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _NotRegular(0, f"{file_kind(st.st_mode)}, not a regular file", str(path))
        chunks, size = [], 0
        while limit is None or size < limit:
            chunk = os.read(fd, 1 << 20 if limit is None else min(1 << 20, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks), st
    finally:
        os.close(fd)


def _boot_id() -> str | None:
    """This kernel's boot identifier (Linux), so a lock made before a reboot is never taken as live."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, Linux), or None where unknown.

    A pid alive now is the lock's holder only if it started when the holder did: after a
    container restart the same pid may belong to an unrelated process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        return int(text[text.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


_BOOT = _boot_id()


def _versions(config) -> dict:
    """Library versions for the record: the configuration's own when it names them."""
    import platform

    out = {}
    for name in ("tlcore", "torch", "pandas", "python"):
        given = config.get(name) if isinstance(config, dict) else None
        if isinstance(given, str):
            out[name] = given
        elif name == "python":
            out[name] = platform.python_version()
        else:
            try:
                out[name] = str(__import__(name).__version__)
            except Exception:  # a version is information, never a reason to fail a write
                out[name] = None
    return out


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) sends CTRL_C there; rely on the lock's age instead
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, under another user
        return True
    return True


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _summary(config) -> str:
    """A one-line view of a configuration for listings: short scalar settings, ``name=value``."""
    if isinstance(config, dict) and isinstance(config.get("params"), dict):
        items = [(k, config[k]) for k in ("experiment",) if k in config] + list(config["params"].items())
    elif isinstance(config, dict):
        items = list(config.items())
    else:
        items = [("config", config)]
    parts = [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in items
             if (v is None or isinstance(v, (str, int, float, bool))) and len(str(v)) <= 24]
    text = " ".join(parts)
    return text if len(text) <= 100 else text[:97] + "..."


def _describe(raw: bytes) -> str:
    """Who holds a lock, in words, from its file's bytes."""
    try:
        info = json.loads(raw)
        since = datetime.fromtimestamp(float(info["time"]), timezone.utc).isoformat(timespec="seconds")
        return f"pid {int(info['pid'])} on {info['host']} since {since}"
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        return "another party (an unreadable lock file)"


class CellLock:
    """A held per-cell lock: use ``with lock:`` or call ``release()`` (releasing twice is harmless)."""

    def __init__(self, path: Path, token: str):
        self.path, self._token, self.held = path, token, True

    def release(self) -> None:
        """Remove the lock file, only if it is still ours (a lock broken as stale may be another's)."""
        if not self.held:
            return
        self.held = False
        try:
            if json.loads(self.path.read_bytes()).get("token") == self._token:
                self.path.unlink()
        except (OSError, ValueError, AttributeError):
            pass

    def __enter__(self) -> "CellLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class ResultsCache:
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

    # ---- locks -----------------------------------------------------------------------------
    def try_lock(self, key: str) -> CellLock | None:
        """Take the cell's lock, or None when a live holder has it (a stale lock is broken first).

        Raises OSError when the folder cannot be written (call ``check_writable()`` first).
        """
        path = self._path(key, ".lock")
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a retry after breaking a stale lock or losing a race to a releaser
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder(path)
                if holder is None:
                    continue  # released meanwhile
                why = self._stale_reason(*holder)
                if why is None:
                    return None
                if self._break(path, *holder):
                    warnings.warn(f"broke the stale lock {path}: {why}", StaleLockWarning, stacklevel=2)
                continue
            token = uuid.uuid4().hex
            with os.fdopen(fd, "w") as fh:
                json.dump({"pid": os.getpid(), "host": _HOST, "time": time.time(), "token": token,
                           "boot": _BOOT, "start": _start_time(os.getpid())}, fh)
            return CellLock(path, token)
        return None

    def wait_for(self, key: str, config: dict, timeout: float | None = None,
                 poll: float = 0.5) -> pd.DataFrame | None:
        """Wait while another party holds the cell's lock: their table, or None when the lock goes
        (or turns stale, or ``timeout`` seconds pass) without a good entry, so the caller computes it."""
        wanted = _canonical(_plain(config))
        deadline = None if timeout is None else time.monotonic() + timeout
        holder = self._holder(self._path(key, ".lock"))
        if holder is not None and self._stale_reason(*holder) is None:
            warnings.warn(f"cell {key} is being computed by {_describe(holder[0])}; waiting for its result "
                          f"(the lock counts as stale after {self.stale_after / 3600:g} h)", CellWaitWarning,
                          stacklevel=2)
        while True:
            if self._lock_state(key) != "held":
                return self.get(key, config)  # a last look, after the holder's put
            table, _, _ = self._load(key, wanted)  # quiet: the holder may be rewriting a bad entry
            if table is not None:
                return table
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(poll)

    def _holder(self, path: Path):
        """``(raw bytes, stat)`` of a lock file, or None when it has gone."""
        try:
            return _read_regular(path, limit=4096)
        except FileNotFoundError:
            return None
        except OSError:  # a folder or FIFO under the lock's name: judged by its age alone
            try:
                return b"", os.stat(path)
            except OSError:
                return None

    def _stale(self, raw: bytes, st: os.stat_result) -> bool:
        return self._stale_reason(raw, st) is not None

    def _stale_reason(self, raw: bytes, st: os.stat_result) -> str | None:
        """Why a lock is stale (its holder has gone, or it is older than ``stale_after``), or None."""
        now = time.time()
        try:
            info = json.loads(raw)
            pid, host, since = int(info["pid"]), str(info["host"]), float(info["time"])
        except (ValueError, KeyError, TypeError):
            age = now - st.st_mtime
            if age > min(self.stale_after, _UNREADABLE_LOCK_GRACE):
                return f"not a readable lock, {age:.0f} s old"
            return None
        if now - since > self.stale_after:
            return (f"held by pid {pid} on {host} for {(now - since) / 3600:.1f} h, longer than any cell may take "
                    f"(stale_after={self.stale_after:g} s)")
        if host != _HOST:
            return None  # a holder on another machine is judged by the lock's age alone
        boot, start = info.get("boot"), info.get("start")
        if boot is not None and _BOOT is not None and boot != _BOOT:
            return f"made by pid {pid} before this machine last started"
        if not _pid_alive(pid):
            return f"its holder, pid {pid}, has exited"
        if start is not None and _start_time(pid) not in (None, start):
            return f"pid {pid} now belongs to another process than the one that made the lock"
        return None

    def _break(self, path: Path, raw: bytes, st: os.stat_result) -> bool:
        """Remove the very lock file judged stale: it is renamed aside first and compared, so two
        processes breaking one lock at once cannot delete the fresh lock one of them just made."""
        aside = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            os.rename(path, aside)
        except OSError:
            return False  # gone already: someone else broke or released it
        try:
            now = os.stat(aside)
            same = (now.st_ino, now.st_dev) == (st.st_ino, st.st_dev) and _read_regular(aside, 4096)[0] == raw
        except OSError:
            same = True  # not a readable file (a directory?): it was judged by age, remove it
        if not same:  # we took a lock made after our judgement: put it back if the name is free
            try:
                os.link(aside, path)
            except OSError:
                pass
        try:
            os.rmdir(aside) if aside.is_dir() else aside.unlink()
        except OSError:
            pass
        return same

    def _lock_state(self, key: str) -> str:
        """"free", "held" (by a live holder) or "stale"."""
        holder = self._holder(self._path(key, ".lock"))
        if holder is None:
            return "free"
        return "stale" if self._stale(*holder) else "held"

    # ---- maintenance -----------------------------------------------------------------------
    def _scan(self) -> tuple[dict[str, dict[str, Path]], list[Path]]:
        """``({key: {suffix: path}}, temporary files)``; an absent folder is empty."""
        keys: dict[str, dict[str, Path]] = {}
        temps = []
        try:
            names = sorted(os.listdir(self.folder))
        except FileNotFoundError:
            return {}, []
        for name in names:
            if name.startswith(".") and name.endswith(".tmp"):
                temps.append(self.folder / name)
                continue
            stem, dot, suffix = name.partition(".")
            if dot and _KEY.match(stem) and suffix in ("json", "parquet", "pkl", "lock"):
                keys.setdefault(stem, {})[suffix] = self.folder / name
        return keys, temps

    def _problems(self):
        """``(reported path, reason, paths to remove)`` for each thing ``prune`` may remove.

        Cells whose lock is held by a live party are left alone (a write may be under way), and
        so are temporary or record-less files younger than an hour.
        """
        keys, temps = self._scan()
        now = time.time()

        def young(path: Path) -> bool:
            try:
                return now - os.lstat(path).st_mtime < _GRACE
            except OSError:
                return True

        for key, files in keys.items():
            state = self._lock_state(key)
            if state == "held":
                continue
            if state == "stale":
                holder = self._holder(files["lock"])
                why = self._stale_reason(*holder) if holder is not None else None
                yield files["lock"], "stale lock" + (f" ({why})" if why else ""), [files["lock"]]
            if "pkl" in files:
                yield files["pkl"], "old pickle format, never loaded", [files["pkl"]]
            if "json" in files:
                _, _, problem = self._load(key, None)
                if problem is not None:
                    yield problem[0], problem[1], [files[s] for s in ("json", "parquet") if s in files]
            elif "parquet" in files and not young(files["parquet"]):
                yield files["parquet"], "no record next to it (an interrupted write)", [files["parquet"]]
        for tmp in temps:
            key = tmp.name[1:].split(".")[0]
            if not (_KEY.match(key) and self._lock_state(key) == "held") and not young(tmp):
                yield tmp, "left-over temporary file", [tmp]
        for aside in self._aside():
            try:
                kind = file_kind(os.lstat(aside).st_mode)
            except OSError:
                continue
            yield aside, f"{kind} set aside from a cache file's name", [aside]

    def _aside(self) -> list[Path]:
        """Things set aside from a cache file's name (see ``put``)."""
        try:
            return [self.folder / n for n in sorted(os.listdir(self.folder)) if _ASIDE in n]
        except OSError:
            return []

    def verify(self) -> list[tuple[Path, str]]:
        """``(path, reason)`` for every bad entry, stale lock or left-over file; never raises on content."""
        return [(path, reason) for path, reason, _ in self._problems()]

    def entries(self) -> list[dict]:
        """Per stored cell: key, rows, bytes, created, status ("ok" or the problem), config summary."""
        out = []
        keys, _ = self._scan()
        for key, files in keys.items():
            if not ({"json", "parquet", "pkl"} & files.keys()):
                continue  # a lock alone is no entry
            _, record, problem = self._load(key, None)
            if problem is None and record is None:  # record-less parquet of a write under way
                problem = (files.get("parquet"), "being written")
            size = 0
            for path in files.values():
                try:
                    size += os.lstat(path).st_size
                except OSError:
                    pass
            record = record or {}
            out.append({"key": key, "rows": record.get("rows"), "bytes": size,
                        "created": record.get("created"),
                        "status": "ok" if problem is None else problem[1],
                        "config": _summary(record.get("config")) if "config" in record else ""})
        return out

    def prune(self, older_than_days: float | None = None, bad: bool = True,
              predicate: Callable[[dict], bool] | None = None) -> list[Path]:
        """Remove files; returns their paths.

        ``bad``: bad entries, stale locks, old-format pickles and left-over files (see
        ``verify``). Good entries go only when ``older_than_days`` and/or ``predicate`` (called with
        the entry's record) are given, and then only those meeting all the given criteria. The
        record is removed before the parquet, so an interrupted prune leaves no entry that looks
        whole. Raises OSError when a file cannot be removed.
        """
        removed: list[Path] = []

        def remove(path: Path) -> None:
            if path.is_dir() and not path.is_symlink():
                with os.scandir(path) as it:
                    full = any(it)
                if full:  # never delete what someone put in a folder
                    if _ASIDE not in path.name:
                        self._set_aside(path)
                    return
                os.rmdir(path)
            else:
                path.unlink()
            removed.append(path)

        if bad:
            for _, _, paths in list(self._problems()):
                for path in paths:
                    remove(path)
        if older_than_days is None and predicate is None:
            return removed
        now = datetime.now(timezone.utc)
        keys, _ = self._scan()
        for key, files in keys.items():
            if "json" not in files or self._lock_state(key) == "held":
                continue
            _, record, problem = self._load(key, None)
            if problem is not None or record is None:
                continue
            if older_than_days is not None:
                try:
                    created = datetime.fromisoformat(record["created"])
                except (KeyError, TypeError, ValueError):
                    created = datetime.fromtimestamp(files["json"].stat().st_mtime, timezone.utc)
                if created.tzinfo is None:
                    created = created.replace(tzinfo=timezone.utc)
                if (now - created).total_seconds() <= older_than_days * 86400:
                    continue
            if predicate is not None and not predicate(record):
                continue
            remove(files["json"])
            remove(files["parquet"])
        return removed


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of days >= 0, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """``python -m tlcore cache {list,verify,prune} DIR``; exit 0, 1 (verify found problems) or 2."""
    parser = argparse.ArgumentParser(prog="python -m tlcore cache",
                                     description="Inspect and clean a tlcore results cache folder.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="one line per entry: key, rows, bytes, created, status, config"
                   ).add_argument("folder")
    sub.add_parser("verify", help="check every entry; exit 1 when some are bad").add_argument("folder")
    prune = sub.add_parser("prune", help="remove bad entries and left-over files")
    prune.add_argument("folder")
    prune.add_argument("--older-than", type=_days, metavar="DAYS",
                       help="also remove good entries created more than DAYS days ago")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its one-line usage error
        return exc.code if isinstance(exc.code, int) else 2
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"tlcore cache: error: no cache folder at {str(folder)!r}", file=sys.stderr)
        return 2
    try:
        caches = _caches(folder)
        if args.command == "list":
            for cache in caches:
                prefix = "" if cache.folder == folder else f"{cache.folder.name}/"
                for e in cache.entries():
                    print("\t".join([prefix + e["key"]] + [str(e[k]) for k in ("rows", "bytes", "created", "status",
                                                                                "config")]))
            return 0
        if args.command == "verify":
            problems = [problem for cache in caches for problem in cache.verify()]
            for path, reason in problems:
                print(f"{path}: {reason}")
            print(f"{len(problems)} problem(s) in {folder}")
            return 1 if problems else 0
        removed = [path for cache in caches for path in cache.prune(older_than_days=args.older_than)]
        for path in removed:
            print(f"removed {path}")
        print(f"removed {len(removed)} file(s) from {folder}")
        return 0
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"tlcore cache: error:{where} ({_reason(exc)})", file=sys.stderr)
        return 2


def _caches(folder: Path) -> list[ResultsCache]:
    """The caches in ``folder``: itself, and the experiment folders ``tlcore.sweep.run`` makes in the
    ``cache_dir`` it is given (``cache_dir/depth``, ...), so either folder may be named."""
    subs = []
    for path in sorted(folder.iterdir()):
        if path.is_dir() and not path.is_symlink() and _KEY.match(path.name):
            cache = ResultsCache(path)
            keys, temps = cache._scan()
            if keys or temps or cache._aside():
                subs.append(cache)
    own = ResultsCache(folder)
    keys, temps = own._scan()
    return ([own] if keys or temps or own._aside() or not subs else []) + subs
