"""What every part of the cache shares: the entry format, keys, warnings and safe reads."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import socket
import stat
from pathlib import Path


from ..files import file_kind

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
