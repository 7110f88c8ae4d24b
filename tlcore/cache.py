"""A results cache on disk that survives killed jobs: atomic writes, checksums, keys from configs.

Each entry is one file named by the hash of its full configuration. It is written to a temporary
file in the same folder and renamed into place, so a reader sees a whole entry or none; a SHA-256
of the payload closes the file, so a truncated or altered entry is detected and recomputed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Any

__all__ = ["config_key", "ResultsCache", "CorruptCacheWarning"]

_DIGEST = 32


class CorruptCacheWarning(UserWarning):
    """A cache file could not be read back; its cell will be recomputed."""


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


def config_key(config: dict) -> str:
    """A stable hex key for a configuration: same values, same key, whatever the dict order."""
    text = json.dumps(_plain(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class ResultsCache:
    """Files ``<folder>/<key>.pkl`` holding ``{"config": ..., "result": ...}``."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.folder, prefix=".probe-", delete=True)
            probe.close()
        except OSError as exc:
            raise ValueError(f"cache_dir {str(self.folder)!r} is not a writable folder ({exc.strerror})") from None

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.pkl"

    def get(self, key: str) -> Any | None:
        """The stored result, or None when absent or unreadable (then a warning says which file)."""
        path = self.path(key)
        if not path.exists():
            return None
        blob = path.read_bytes()
        payload, digest = blob[:-_DIGEST], blob[-_DIGEST:]
        try:
            if len(blob) <= _DIGEST or hashlib.sha256(payload).digest() != digest:
                raise ValueError("checksum mismatch")
            return pickle.loads(payload)["result"]
        except Exception as exc:  # a damaged file must never stop a sweep
            warnings.warn(f"corrupt cache file {path} ({exc}); recomputing it", CorruptCacheWarning,
                          stacklevel=2)
            return None

    def put(self, key: str, config: dict, result: Any) -> Path:
        """Store atomically: write a temporary file, flush it to disk, rename it into place."""
        payload = pickle.dumps({"config": _plain(config), "result": result}, protocol=4)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{key}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload + hashlib.sha256(payload).digest())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path(key)
