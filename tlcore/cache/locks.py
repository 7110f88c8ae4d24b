"""Per-cell lock files: who holds a cell, whether the holder is alive, breaking stale locks."""
from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .common import (_HOST, _UNREADABLE_LOCK_GRACE, CellWaitWarning, StaleLockWarning, _canonical, _plain,
                     _read_regular)


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


class LockMixin:
    """The lock half of :class:`tlcore.cache.ResultsCache` (see the package docstring for the protocol)."""

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
