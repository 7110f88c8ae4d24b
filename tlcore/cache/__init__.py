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
                cache.put(key, config, table)  # put before the lock goes"""
# the private constants and helpers are re-exported for the tests that plant old or foreign files
from .cli import main
from .common import (_ASIDE, _GRACE, _KEY, _UNREADABLE_LOCK_GRACE, FORMAT, CellWaitWarning, CorruptCacheWarning,
                     StaleLockWarning, _plain, config_key)
from .locks import _BOOT, CellLock, _start_time
from .store import ResultsCache

__all__ = ["config_key", "ResultsCache", "CellLock", "CorruptCacheWarning", "StaleLockWarning", "CellWaitWarning",
           "main", "FORMAT"]
