"""Maintenance of a cache folder: listing, verifying and pruning its entries."""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable


from ..files import file_kind
from .common import _ASIDE, _GRACE, _KEY, _summary


class AdminMixin:
    """The maintenance half of :class:`tlcore.cache.ResultsCache`."""

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
