"""The results cache: data-only entries, every kind of bad file, read-only caches, locks, maintenance."""
import contextlib
import hashlib
import json
import multiprocessing
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tlcore import cache as cache_module
from tlcore.cache import (FORMAT, CellWaitWarning, CorruptCacheWarning, ResultsCache, StaleLockWarning,
                          config_key, main)

CONFIG = {"experiment": "depth", "params": {"seed": 1, "width": 64}, "tlcore": "0.1.0"}
OTHER = {"experiment": "depth", "params": {"seed": 2, "width": 64}, "tlcore": "0.1.0"}


def _table(n=4, shift=0):
    return pd.DataFrame({"layer": np.arange(n, dtype=np.int64) + shift,
                         "acc": np.linspace(0.5, 0.9, n) + shift,
                         "ok": [i % 2 == 0 for i in range(n)]})


def _fill(folder, config=CONFIG, table=None):
    cache = ResultsCache(folder)
    key = config_key(config)
    cache.put(key, config, _table() if table is None else table)
    return cache, key


def _quiet_get(cache, key, config=CONFIG):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        return cache.get(key, config)


# ---- round trip and record --------------------------------------------------------------------
def test_round_trip_is_exact(tmp_path):
    table = pd.DataFrame({
        "i": np.array([0, -1, 2**62, 7], dtype=np.int64),
        "i32": np.array([1, 2, -3, 4], dtype=np.int32),
        "f32": np.array([1.1, np.nan, -0.0, np.float32(3.4e38)], dtype=np.float32),
        "f64": np.array([np.nan, 5e-324, -0.0, np.inf]),
        "b": [True, False, True, False],
        "s": ["a", "", "ünï", "x" * 100],
    })
    cache = ResultsCache(tmp_path)
    key = config_key(CONFIG)
    cache.put(key, CONFIG, table)
    back = _quiet_get(cache, key)
    assert list(back.dtypes) == list(table.dtypes)
    pd.testing.assert_frame_equal(back, table, check_exact=True)
    for col, bits in (("f32", np.uint32), ("f64", np.uint64)):  # NaN, -0.0, subnormals bit for bit
        assert (back[col].to_numpy().view(bits) == table[col].to_numpy().view(bits)).all()


def test_record_describes_the_data(tmp_path):
    cache, key = _fill(tmp_path, config={**CONFIG, "torch": "9.9"})
    record = json.loads((tmp_path / f"{key}.json").read_text())
    assert record["format"] == FORMAT and record["key"] == key
    assert record["config"] == cache_module._plain({**CONFIG, "torch": "9.9"})
    assert record["versions"]["tlcore"] == "0.1.0" and record["versions"]["torch"] == "9.9"
    assert record["versions"]["pandas"] == pd.__version__ and record["versions"]["python"]
    assert record["rows"] == 4 and record["columns"] == ["layer", "acc", "ok"]
    assert record["sha256"] == hashlib.sha256((tmp_path / f"{key}.parquet").read_bytes()).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{key}.json", f"{key}.parquet"]  # no temp left


def test_absent_entry_is_none_without_warning(tmp_path):
    cache = ResultsCache(tmp_path / "never-made")
    assert _quiet_get(cache, config_key(CONFIG)) is None
    assert not (tmp_path / "never-made").exists()  # opening or reading creates nothing


@pytest.mark.parametrize("bad", [{"a": 1}, [1, 2], None, np.zeros(3)])
def test_put_needs_a_dataframe(tmp_path, bad):
    with pytest.raises(TypeError, match="DataFrame"):
        ResultsCache(tmp_path).put(config_key(CONFIG), CONFIG, bad)
    assert not list(tmp_path.iterdir())


def test_keys_cannot_name_other_paths(tmp_path):
    with pytest.raises(ValueError, match="cache key"):
        ResultsCache(tmp_path).put("../evil", CONFIG, _table())


# ---- malicious pickles ------------------------------------------------------------------------
class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling creates the marker file


def _evil(marker) -> bytes:
    return pickle.dumps(_Payload(marker))


def _forged_record(key, payload: bytes, **extra):
    return {"format": FORMAT, "key": key, "config": cache_module._plain(CONFIG), "rows": 1,
            "columns": ["x"], "sha256": hashlib.sha256(payload).hexdigest(), "created": "2024-01-01", **extra}


@pytest.mark.parametrize("where", ["pkl", "parquet", "parquet+record", "record-reference"])
def test_malicious_pickle_never_runs(tmp_path, where):
    folder, marker = tmp_path / "c", tmp_path / "PWNED"
    folder.mkdir()
    key = config_key(CONFIG)
    evil = _evil(marker)
    if where == "pkl":  # an old-format file, with the old format's trailing checksum
        (folder / f"{key}.pkl").write_bytes(evil + hashlib.sha256(evil).digest())
    elif where.startswith("parquet"):
        (folder / f"{key}.parquet").write_bytes(evil)
        if where == "parquet+record":
            (folder / f"{key}.json").write_text(json.dumps(_forged_record(key, evil)))
    else:
        (folder / "evil.pkl").write_bytes(evil)
        record = _forged_record(key, evil, data="evil.pkl", path=str(folder / "evil.pkl"), pickle="evil.pkl")
        (folder / f"{key}.json").write_text(json.dumps(record))
    cache = ResultsCache(folder)
    with pytest.warns(CorruptCacheWarning, match=key):
        assert cache.get(key, CONFIG) is None
    cache.verify(), cache.entries(), cache.prune()
    assert main(["list", str(folder)]) == 0 and main(["verify", str(folder)]) in (0, 1)
    assert not marker.exists()
    pickle.loads(evil)  # the payload is live: unpickled, it does leave its marker
    assert marker.exists()


# ---- entries that are not what their name says ------------------------------------------------
@pytest.mark.parametrize("edit_key", [False, True], ids=["copied", "copied-and-key-edited"])
def test_another_cells_entry_is_refused(tmp_path, edit_key):
    cache, key = _fill(tmp_path)
    _, other = _fill(tmp_path, OTHER, _table(shift=10))
    for suffix in (".json", ".parquet"):
        shutil.copyfile(tmp_path / f"{other}{suffix}", tmp_path / f"{key}{suffix}")
    if edit_key:
        record = json.loads((tmp_path / f"{key}.json").read_text())
        record["key"] = key
        (tmp_path / f"{key}.json").write_text(json.dumps(record))
    reason = "stored configuration differs" if edit_key else "record is for key"
    with pytest.warns(CorruptCacheWarning, match=rf"{key}\.json: {reason}"):
        assert cache.get(key, CONFIG) is None
    pd.testing.assert_frame_equal(_quiet_get(cache, other, OTHER), _table(shift=10))


def _rewrite_record(folder, key, **changes):
    record = json.loads((folder / f"{key}.json").read_text())
    record.update(changes)
    (folder / f"{key}.json").write_text(json.dumps(record))


def _truncate(folder, key):
    p = folder / f"{key}.parquet"
    p.write_bytes(p.read_bytes()[:-100])


def _truncate_and_fix_checksum(folder, key):
    _truncate(folder, key)
    _rewrite_record(folder, key, sha256=hashlib.sha256((folder / f"{key}.parquet").read_bytes()).hexdigest())


def _flip_byte(folder, key):
    p = folder / f"{key}.parquet"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))


def _directory_for(suffix):
    def edit(folder, key):
        (folder / f"{key}{suffix}").unlink()
        (folder / f"{key}{suffix}").mkdir()
    return edit


def _fifo_for(suffix):
    def edit(folder, key):  # reading a FIFO would wait forever for a writer
        (folder / f"{key}{suffix}").unlink()
        os.mkfifo(folder / f"{key}{suffix}")
    return edit


def _other_table_with_checksum(folder, key):
    _fill(folder / "x", table=_table(n=7))
    shutil.copyfile(folder / "x" / f"{key}.parquet", folder / f"{key}.parquet")
    shutil.rmtree(folder / "x")
    _rewrite_record(folder, key, sha256=hashlib.sha256((folder / f"{key}.parquet").read_bytes()).hexdigest())


def _orphan_parquet(folder, key):
    (folder / f"{key}.json").unlink()
    old = time.time() - 2 * cache_module._GRACE
    os.utime(folder / f"{key}.parquet", (old, old))


BAD = {  # name: (edit(folder, key), file named in the warning, words of the reason)
    "truncated parquet": (_truncate, "parquet", "checksum mismatch"),
    "truncated parquet, checksum fixed": (_truncate_and_fix_checksum, "parquet", "not a readable parquet"),
    "altered byte": (_flip_byte, "parquet", "checksum mismatch"),
    "garbage JSON": (lambda f, k: (f / f"{k}.json").write_bytes(b"{not json\xff"), "json", "not valid JSON"),
    "empty JSON": (lambda f, k: (f / f"{k}.json").write_bytes(b""), "json", "not valid JSON"),
    "JSON list": (lambda f, k: (f / f"{k}.json").write_text("[1, 2]"), "json", "JSON list"),
    "wrong format": (lambda f, k: _rewrite_record(f, k, format="tlcore-cache/1"), "json", "format"),
    "fields missing": (lambda f, k: _rewrite_record(f, k, sha256=None), "json", "lacks"),
    "directory as parquet": (_directory_for(".parquet"), "parquet", "a folder, not a regular file"),
    "directory as record": (_directory_for(".json"), "json", "a folder, not a regular file"),
    "FIFO as parquet": (_fifo_for(".parquet"), "parquet", "a FIFO, not a regular file"),
    "FIFO as record": (_fifo_for(".json"), "json", "a FIFO, not a regular file"),
    "missing parquet": (lambda f, k: (f / f"{k}.parquet").unlink(), "parquet", "missing"),
    "rows differ": (lambda f, k: _rewrite_record(f, k, rows=5), "parquet", "the record says"),
    "columns differ": (lambda f, k: _rewrite_record(f, k, columns=["a", "b", "c"]), "parquet",
                       "the record says"),
    "other table, checksum fixed": (_other_table_with_checksum, "parquet", "the record says"),
    "record missing": (_orphan_parquet, "parquet", "no record"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_entry_warns_and_is_recomputed(tmp_path, case):
    edit, suffix, words = BAD[case]
    cache, key = _fill(tmp_path)
    edit(tmp_path, key)
    with pytest.warns(CorruptCacheWarning, match=rf"{key}\.{suffix}: .*{words}") as caught:
        assert cache.get(key, CONFIG) is None
    assert len(caught) == 1
    assert [e["status"] for e in cache.entries()] != ["ok"]  # listed, never waited on
    problems = cache.verify()
    assert [(p.name, r) for p, r in problems] and all(key in p.name for p, _ in problems)
    assert main(["verify", str(tmp_path)]) == 1
    assert cache.prune()
    assert cache.verify() == [] and _quiet_get(cache, key) is None
    assert sorted(os.listdir(tmp_path)) == []
    cache.put(key, CONFIG, _table())  # the recomputed cell is stored and read again
    pd.testing.assert_frame_equal(_quiet_get(cache, key), _table())


# ---- read-only caches -------------------------------------------------------------------------
@contextlib.contextmanager
def _as_nobody():
    """Run the block with an unprivileged effective uid, when running as root and allowed to."""
    if os.geteuid() != 0:
        yield
        return
    try:
        os.setegid(65534)
        os.seteuid(65534)
    except OSError as exc:
        pytest.skip(f"cannot drop root privileges to test permissions ({exc})")
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def shared_tmp():
    """A folder every user can traverse (pytest's own tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="tlcore-cache-test-"))
    folder.chmod(0o755)
    yield folder
    for p in [folder, *folder.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(folder)


def test_read_only_complete_cache_is_readable(shared_tmp):
    folder = shared_tmp / "cache"
    _, key = _fill(folder)
    _quiet_get(ResultsCache(folder), key)  # loads every lazy module before privileges drop
    for p in folder.iterdir():
        p.chmod(0o444)
    folder.chmod(0o555)
    with _as_nobody():
        try:
            (folder / "probe").write_bytes(b"")
        except OSError:
            pass
        else:
            pytest.skip("permissions are not enforced here (root without a uid to drop to?)")
        cache = ResultsCache(folder)
        table = _quiet_get(cache, key)
        assert cache.verify() == [] and [e["status"] for e in cache.entries()] == ["ok"]
        with pytest.raises(ValueError, match="is not a writable folder"):
            cache.check_writable()
    pd.testing.assert_frame_equal(table, _table())
    assert sorted(p.name for p in folder.iterdir()) == [f"{key}.json", f"{key}.parquet"]


def test_check_writable(tmp_path):
    (tmp_path / "file").write_text("x")
    bad = tmp_path / "file" / "cache"
    with pytest.raises(ValueError) as info:
        ResultsCache(bad).check_writable()
    assert str(info.value) == f"cache_dir {str(bad)!r} is not a writable folder (Not a directory)"
    good = tmp_path / "new" / "cache"
    cache = ResultsCache(good)
    assert not good.exists()
    cache.check_writable()
    assert good.is_dir() and not list(good.iterdir())  # the probe is gone


# ---- locks ------------------------------------------------------------------------------------
def test_lock_is_exclusive_and_released(tmp_path):
    cache = ResultsCache(tmp_path / "c")
    key = config_key(CONFIG)
    with cache.try_lock(key) as lock:
        assert lock is not None and cache.try_lock(key) is None
        info = json.loads((tmp_path / "c" / f"{key}.lock").read_text())
        assert info["pid"] == os.getpid() and info["host"] == socket.gethostname() and info["time"] > 0
    assert not (tmp_path / "c" / f"{key}.lock").exists()
    lock.release()  # twice is harmless
    assert cache.try_lock(config_key(OTHER)) is not None  # locks are per cell
    assert cache.try_lock(key) is not None


def test_threads_contend_for_one_lock(tmp_path):
    cache = ResultsCache(tmp_path)
    key = config_key(CONFIG)
    barrier, got = threading.Barrier(8), []

    def contend():
        barrier.wait()
        got.append(cache.try_lock(key))

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(lock is not None for lock in got) == 1


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_lock(folder, key, **info):
    folder.mkdir(exist_ok=True)
    (folder / f"{key}.lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                                    "time": time.time(), **info}))


def test_stale_locks_are_broken(tmp_path):
    cache = ResultsCache(tmp_path, stale_after=3600)
    key = config_key(CONFIG)
    _write_lock(tmp_path, key, pid=_dead_pid())  # its holder has exited
    lock = cache.try_lock(key)
    assert lock is not None and json.loads((tmp_path / f"{key}.lock").read_text())["pid"] == os.getpid()
    lock.release()
    _write_lock(tmp_path, key, pid=1, host="elsewhere")  # a live-looking holder elsewhere: respected
    assert cache.try_lock(key) is None
    _write_lock(tmp_path, key, pid=1, host="elsewhere", time=time.time() - 7200)  # but not forever
    assert cache.try_lock(key) is not None


def test_release_spares_the_lock_of_whoever_broke_ours(tmp_path):
    key = config_key(CONFIG)
    mine = ResultsCache(tmp_path, stale_after=0.2).try_lock(key)
    time.sleep(0.3)
    theirs = ResultsCache(tmp_path, stale_after=0.2).try_lock(key)  # ours is stale by age: broken
    assert theirs is not None
    mine.release()
    assert ResultsCache(tmp_path).try_lock(key) is None  # their lock is still there
    theirs.release()
    assert not (tmp_path / f"{key}.lock").exists()


def test_stale_lock_left_by_a_thread_is_not_mistaken(tmp_path):
    """A lock of this very process (another thread) is live, not stale."""
    cache = ResultsCache(tmp_path)
    key = config_key(CONFIG)
    _write_lock(tmp_path, key)
    assert cache.try_lock(key) is None


def test_wait_for_returns_the_other_partys_table(tmp_path):
    cache = ResultsCache(tmp_path)
    key = config_key(CONFIG)
    lock, done = cache.try_lock(key), threading.Event()

    def finish():
        time.sleep(0.3)
        cache.put(key, CONFIG, _table())
        done.wait(10)  # the table is found while the lock is still held
        lock.release()

    worker = threading.Thread(target=finish)
    worker.start()
    assert cache.try_lock(key) is None
    table = cache.wait_for(key, CONFIG, timeout=5, poll=0.02)
    done.set()
    worker.join()
    assert table is not None
    pd.testing.assert_frame_equal(table, _table())


def test_wait_for_gives_up_when_the_holder_does(tmp_path):
    cache = ResultsCache(tmp_path)
    key = config_key(CONFIG)
    lock = cache.try_lock(key)
    threading.Timer(0.2, lock.release).start()
    assert cache.wait_for(key, CONFIG, timeout=10, poll=0.02) is None  # released without a put
    _write_lock(tmp_path, key, pid=_dead_pid())
    assert cache.wait_for(key, CONFIG, timeout=10, poll=0.02) is None  # holder died
    _write_lock(tmp_path, key)
    start = time.monotonic()
    assert cache.wait_for(key, CONFIG, timeout=0.2, poll=0.02) is None  # timeout
    assert 0.15 < time.monotonic() - start < 2


def _contender(folder, key, barrier, results, go):
    cache = ResultsCache(folder)
    barrier.wait()
    lock = cache.try_lock(key)
    results.put("locked" if lock is not None else "busy")
    if lock is not None:
        go.wait(30)
        cache.put(key, CONFIG, _table())
        lock.release()
    else:
        table = cache.wait_for(key, CONFIG, timeout=30, poll=0.05)
        results.put("waited" if table is not None and table.equals(_table()) else "no table")


def test_processes_contend_for_one_lock(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    key = config_key(CONFIG)
    barrier, results, go = ctx.Barrier(2), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_contender, args=(str(tmp_path), key, barrier, results, go))
             for _ in range(2)]
    for p in procs:
        p.start()
    try:
        first = sorted(results.get(timeout=60) for _ in range(2))
        assert first == ["busy", "locked"]
        cache = ResultsCache(tmp_path)
        assert cache.try_lock(key) is None  # held by the other process
        go.set()
        assert results.get(timeout=30) == "waited"
        pd.testing.assert_frame_equal(cache.wait_for(key, CONFIG, timeout=30, poll=0.05), _table())
    finally:
        go.set()
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    assert [p.exitcode for p in procs] == [0, 0]
    assert not (tmp_path / f"{key}.lock").exists()


# ---- maintenance ------------------------------------------------------------------------------
def test_entries_list_the_cells(tmp_path):
    cache, key = _fill(tmp_path)
    _, other = _fill(tmp_path, OTHER, _table(n=2))
    _flip_byte(tmp_path, other)
    got = {e["key"]: e for e in cache.entries()}
    assert set(got) == {key, other}
    assert got[key]["status"] == "ok" and got[key]["rows"] == 4
    assert got[key]["bytes"] == sum(os.path.getsize(tmp_path / f"{key}{s}") for s in (".json", ".parquet"))
    assert "experiment=depth" in got[key]["config"] and "seed=1" in got[key]["config"]
    assert got[key]["created"].startswith(time.strftime("%Y", time.gmtime()))
    assert "checksum" in got[other]["status"]
    assert ResultsCache(tmp_path / "absent").entries() == []


def test_prune_debris_but_not_work_in_progress(tmp_path):
    cache, key = _fill(tmp_path)
    _, busy = _fill(tmp_path, OTHER)
    old = time.time() - 2 * cache_module._GRACE
    debris = [tmp_path / ".x.parquet.123.tmp", tmp_path / f"{config_key({'a': 1})}.pkl",
              tmp_path / f"{config_key({'b': 2})}.parquet"]
    for p in debris:
        p.write_bytes(b"junk")
        os.utime(p, (old, old))
    fresh = tmp_path / ".y.parquet.456.tmp"  # a write under way, maybe by another machine
    fresh.write_bytes(b"")
    _write_lock(tmp_path, config_key({"c": 3}), pid=_dead_pid())  # stale lock
    lock = cache.try_lock(busy)  # a live holder rewriting its cell: its files are left alone
    _flip_byte(tmp_path, busy)
    found = {p.name for p, _ in cache.verify()}
    assert found == {p.name for p in debris} | {f"{config_key({'c': 3})}.lock"}
    removed = cache.prune()
    assert {p.name for p in removed} == found
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{key}.json", f"{key}.parquet", f"{busy}.json", f"{busy}.parquet", f"{busy}.lock", fresh.name])
    lock.release()
    assert cache.verify() == [(tmp_path / f"{busy}.parquet", "checksum mismatch (truncated or altered)")]


def test_prune_by_age_and_predicate(tmp_path):
    cache, key = _fill(tmp_path)
    _, other = _fill(tmp_path, OTHER)
    _rewrite_record(tmp_path, other, created="2000-01-01T00:00:00+00:00")
    assert cache.prune() == []  # nothing bad, and good entries stay by default
    assert cache.prune(older_than_days=30, predicate=lambda r: r["config"]["params"]["seed"] == 1) == []
    removed = cache.prune(older_than_days=30)
    assert sorted(p.name for p in removed) == [f"{other}.json", f"{other}.parquet"]  # record first
    assert removed[0].suffix == ".json"
    assert cache.prune(predicate=lambda r: r["config"]["params"]["seed"] == 1)
    assert not list(tmp_path.iterdir())


def test_main(tmp_path, capsys):
    _, key = _fill(tmp_path)
    assert main(["list", str(tmp_path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(key) and "\tok\t" in line and "seed=1" in line
    assert main(["verify", str(tmp_path)]) == 0
    assert "0 problem(s)" in capsys.readouterr().out
    _, other = _fill(tmp_path, OTHER)
    _truncate(tmp_path, other)
    assert main(["verify", str(tmp_path)]) == 1
    assert f"{other}.parquet: checksum mismatch" in capsys.readouterr().out
    assert main(["prune", str(tmp_path)]) == 0
    assert "removed 2 file(s)" in capsys.readouterr().out
    assert main(["prune", str(tmp_path), "--older-than", "0"]) == 0
    assert not list(tmp_path.iterdir())
    capsys.readouterr()
    for argv in (["list", str(tmp_path / "absent")], ["verify", str(tmp_path / "x" / "y")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no cache folder" in err
    assert main(["prune", str(tmp_path), "--older-than", "soon"]) == 2
    assert main(["frobnicate", str(tmp_path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


# ---- faults: things that are not cache files, locks of holders that have gone, the run folder ----
def test_a_folder_under_a_cache_files_name_is_set_aside_never_deleted(tmp_path):
    cache, key = _fill(tmp_path)
    (tmp_path / f"{key}.json").unlink()
    (tmp_path / f"{key}.json").mkdir()
    (tmp_path / f"{key}.json" / "notes.txt").write_text("someone's file")
    with pytest.warns(CorruptCacheWarning, match="a folder, not a regular file"):
        assert cache.get(key, CONFIG) is None
    with pytest.warns(CorruptCacheWarning, match=r"set aside as .*\.json\.set-aside-"):
        cache.put(key, CONFIG, _table())  # the recomputed cell is stored, not an IsADirectoryError
    pd.testing.assert_frame_equal(_quiet_get(cache, key), _table())
    aside = [p for p in tmp_path.iterdir() if ".set-aside-" in p.name]
    assert len(aside) == 1 and (aside[0] / "notes.txt").read_text() == "someone's file"
    assert [(p.name, r) for p, r in cache.verify()] == [(aside[0].name, "a folder set aside from a cache file's name")]
    assert cache.prune() == [] and (aside[0] / "notes.txt").exists()  # reported, kept for its owner
    (aside[0] / "notes.txt").unlink()
    assert cache.prune() == [aside[0]] and cache.verify() == []  # an empty one is removed


def test_a_fifo_under_a_lock_name_never_blocks(tmp_path):
    cache, key = ResultsCache(tmp_path, stale_after=3600), config_key(CONFIG)
    os.mkfifo(tmp_path / f"{key}.lock")
    done = []
    worker = threading.Thread(target=lambda: done.append((cache.try_lock(key), cache.verify(), cache.entries())),
                              daemon=True)
    worker.start()
    worker.join(20)
    assert done, "a FIFO at a lock's path hangs the cache"
    assert done[0][0] is None  # young: judged by age like any unreadable lock
    old = time.time() - 2 * cache_module._UNREADABLE_LOCK_GRACE
    os.utime(tmp_path / f"{key}.lock", (old, old))
    with pytest.warns(StaleLockWarning, match="not a readable lock"):
        lock = cache.try_lock(key)
    assert lock is not None
    lock.release()


def _live_pid_of_another_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    return proc


def test_a_live_pid_that_is_another_process_does_not_hold_the_lock(tmp_path):
    """After a container restart a lock's pid may be alive again, as an unrelated process."""
    cache, key = ResultsCache(tmp_path), config_key(CONFIG)
    other = _live_pid_of_another_process()
    try:
        start = cache_module._start_time(other.pid)
        if start is None:
            pytest.skip("process start times are not readable here")
        _write_lock(tmp_path, key, pid=other.pid, start=start, boot=cache_module._BOOT)
        assert cache.try_lock(key) is None and cache.verify() == []  # its real holder: respected
        _write_lock(tmp_path, key, pid=other.pid, start=start - 1, boot=cache_module._BOOT)
        assert [r for _, r in cache.verify()] == [f"stale lock (pid {other.pid} now belongs to another process "
                                                  "than the one that made the lock)"]
        with pytest.warns(StaleLockWarning, match=f"pid {other.pid} now belongs to another process"):
            lock = cache.try_lock(key)
        assert lock is not None
        lock.release()
        _write_lock(tmp_path, key, pid=other.pid, start=start, boot="another-boot")  # made before a reboot
        with pytest.warns(StaleLockWarning, match="before this machine last started"):
            assert cache.try_lock(key) is not None
    finally:
        other.kill()
        other.wait()


def test_a_lock_older_than_any_cell_is_broken_with_a_message(tmp_path):
    cache, key = ResultsCache(tmp_path, stale_after=3600), config_key(CONFIG)
    _write_lock(tmp_path, key, time=time.time() - 7200)  # this very process: alive, but for too long
    assert [r for _, r in cache.verify()][0].startswith("stale lock (held by pid")
    with pytest.warns(StaleLockWarning, match=r"for 2\.0 h, longer than any cell may take"):
        assert cache.try_lock(key) is not None


def test_waiting_for_another_sweeps_cell_says_so_once(tmp_path):
    cache, key = ResultsCache(tmp_path), config_key(CONFIG)
    _write_lock(tmp_path, key)
    with pytest.warns(CellWaitWarning, match=f"cell {key} is being computed by pid {os.getpid()}") as caught:
        assert cache.wait_for(key, CONFIG, timeout=0.3, poll=0.02) is None
    assert len(caught) == 1


def test_cli_accepts_the_folder_given_to_run(tmp_path, capsys):
    """``run(..., cache_dir)`` keeps cells in ``cache_dir/EXPERIMENT``: either folder may be named."""
    _, key = _fill(tmp_path / "depth")
    _, other = _fill(tmp_path / "profiles", OTHER)
    _truncate(tmp_path / "profiles", other)
    assert main(["list", str(tmp_path)]) == 0
    lines = sorted(capsys.readouterr().out.strip().splitlines())
    assert [line.split("\t")[0] for line in lines] == [f"depth/{key}", f"profiles/{other}"]
    assert main(["verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"profiles/{other}.parquet: checksum mismatch" in out and "1 problem(s)" in out
    assert main(["prune", str(tmp_path)]) == 0 and "removed 2 file(s)" in capsys.readouterr().out
    assert main(["verify", str(tmp_path)]) == 0 and main(["verify", str(tmp_path / "depth")]) == 0
