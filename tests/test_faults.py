"""Faults a careless user or an unlucky machine brings: nothing a user has is overwritten, no input is
silently misread, nothing hangs. Each case is a row of a table (the README lists them)."""
import contextlib
import errno
import json
import os
import shutil
import signal
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
import torch

from tlcore import files
from tlcore.__main__ import main
from tlcore.cache import CorruptCacheWarning, ResultsCache
from tlcore.models import MLP, load_model, save_model

ROOT = Path(__file__).resolve().parents[1]


def _data(folder, n=60, name="d.npz", **extra):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n, 6)), np.arange(n) % 3
    arrays = dict(x=x, y=y, x_test=rng.normal(size=(30, 6)), y_test=np.arange(30) % 3)
    arrays.update(extra)
    np.savez(folder / name, **arrays)
    return folder / name


def _train(*args):
    return main(["train-source", *map(str, args)])


# ---- train-source: every bad input one line and exit 2, before training ------------------------
def _link(path, target):
    path.symlink_to(target)
    return path


def _folder(path):
    path.mkdir()
    return path


TRAIN_SOURCE_BAD = [
    # (what, extra arguments from (folder, data file), message)
    ("--out onto the data file, through a link", lambda t, d: ["--out", _link(t / "m.pt", d)], "is the input file"),
    ("--out is a folder", lambda t, d: ["--out", _folder(t / "m.pt")], "is a folder, not a file"),
    ("--out into a missing folder", lambda t, d: ["--out", t / "no" / "m.pt"], "does not exist"),
    ("--out not a .pt file", lambda t, d: ["--out", t / "m.json"], "model files end in .pt"),
    ("a network above the loader's cap", lambda t, d: ["--out", t / "m.pt", "--width", "1000000"],
     "more than the 50,000,000 that load_model"),
    ("NaN in x_test", lambda t, d: ["--out", t / "m.pt", "--data", _data(t, name="n.npz", x_test=np.full((30, 6), np.nan))],
     "x_test holds 180 NaN or inf value(s)"),
    ("complex features", lambda t, d: ["--out", t / "m.pt", "--data", _data(t, name="c.npz", x=np.ones((60, 6)) * 1j)],
     "x holds complex numbers"),
]


@pytest.mark.parametrize("what, args, message", TRAIN_SOURCE_BAD, ids=[b[0] for b in TRAIN_SOURCE_BAD])
def test_train_source_bad_inputs_are_one_line_before_any_work(what, args, message, tmp_path, capsys):
    data = _data(tmp_path)
    before = data.read_bytes()
    extra = [str(a) for a in args(tmp_path, data)]
    given = ["--data", str(data)] if "--data" not in extra else []
    assert _train(*given, *extra, "--steps", "5") == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert data.read_bytes() == before  # the input is untouched


def test_model_file_errors_quote_the_path(tmp_path, capsys):
    bad = tmp_path / "trunc.pt"
    bad.write_bytes(b"junk")
    _data(tmp_path, name="t.npz")
    assert main(["advise", "--target", str(tmp_path / "t.npz"), "--source", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"error: {str(bad)!r} is not a tlcore model file" in err, err
    assert main(["advise", "--target", str(tmp_path / "t.npz"), "--source", str(tmp_path / "gone.pt")]) == 2
    assert f"no model file at {str(tmp_path / 'gone.pt')!r}" in capsys.readouterr().err


# ---- a full disk: the earlier good file stays --------------------------------------------------
@contextlib.contextmanager
def _disk_full_after(nbytes):
    """Every write through the project's atomic writer fails with ENOSPC after ``nbytes`` bytes."""
    real = os.fdopen

    class Full:
        def __init__(self, fh):
            self.fh, self.left = fh, nbytes

        def write(self, data):
            self.fh.write(data[:self.left])
            self.fh.flush()
            if len(data) > self.left:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.left -= len(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(files.os, "fdopen", lambda fd, mode="r", *a, **k: Full(real(fd, mode, *a, **k)))
        yield


def test_full_disk_leaves_the_earlier_file_whole(tmp_path):
    good = tmp_path / "old.json"
    good.write_text('{"earlier": "good"}')
    with _disk_full_after(4096), pytest.raises(OSError, match="No space left"):
        files.write_atomic(good, b"x" * 100_000)
    assert json.loads(good.read_text()) == {"earlier": "good"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]  # no temporary file left


def test_full_disk_during_train_source_keeps_the_earlier_model(tmp_path, capsys):
    data = _data(tmp_path)
    old = tmp_path / "old.pt"
    save_model(MLP(6, 3, width=8, depth=2, seed=0), old)
    before = old.read_bytes()
    with _disk_full_after(4096):
        code = _train("--data", data, "--out", old, "--width", "32", "--depth", "3", "--steps", "5")
    err = capsys.readouterr().err
    assert code == 2 and "No space left" in err and "the earlier file is unchanged" in err and err.count("\n") == 1
    assert old.read_bytes() == before and load_model(old).config["width"] == 8  # still loadable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz", "old.pt"]


def test_full_disk_during_advise_keeps_the_earlier_json_and_prints_the_advice(tmp_path, capsys):
    data = _data(tmp_path, x=np.random.default_rng(1).normal(size=(60, 6)))
    model = tmp_path / "src.pt"
    save_model(MLP(6, 3, width=8, depth=2, seed=0), model)
    good = tmp_path / "old.json"
    good.write_text('{"earlier": "good"}')
    with _disk_full_after(100):
        code = main(["advise", "--target", str(data), "--source", str(model), "--json", str(good),
                     "--steps", "5", "--seeds", "2"])
    out, err = capsys.readouterr()
    assert code == 2 and "could not write --json" in err and "the advice is printed above" in err
    assert json.loads(out[out.index('{\n  "format_version"'):].rsplit("}", 1)[0] + "}")["format_version"] == 1
    assert json.loads(good.read_text()) == {"earlier": "good"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_shipped_results_are_written_atomically(tmp_path):
    """paper.make_results writes through the same writer (one helper for every file)."""
    import tlcore.paper as paper

    assert paper.write_atomic is files.write_atomic
    from tlcore.cache import store

    assert store.write_atomic is files.write_atomic


# ---- read-only folders (needs an unprivileged user: root may write anywhere) -------------------
@contextlib.contextmanager
def _as_nobody():
    if os.geteuid() != 0:
        yield
        return
    try:
        os.setegid(65534)
        os.seteuid(65534)
    except OSError as exc:
        pytest.skip(f"cannot drop root privileges ({exc})")
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_outputs_in_a_read_only_folder_are_refused_before_any_work(capsys):
    folder = Path(tempfile.mkdtemp(prefix="tlcore-ro-"))
    try:
        data = _data(folder)
        model = folder / "src.pt"
        save_model(MLP(6, 3, width=8, depth=2, seed=0), model)
        locked = folder / "locked"
        locked.mkdir()
        for p in (folder, data, model):
            p.chmod(0o755 if p.is_dir() else 0o644)
        locked.chmod(0o555)
        with _as_nobody():
            try:
                (locked / "probe").write_bytes(b"")
            except OSError:
                pass
            else:
                pytest.skip("permissions are not enforced here")
            assert _train("--data", data, "--out", locked / "m.pt") == 2
            assert "is not writable" in capsys.readouterr().err
            assert main(["advise", "--target", str(data), "--source", str(model), "--json",
                         str(locked / "a.json")]) == 2
            assert "is not writable" in capsys.readouterr().err
    finally:
        (folder / "locked").chmod(0o755)
        shutil.rmtree(folder)


# ---- training settings: refused at every public entry point ------------------------------------
SETTINGS_BAD = [("lr", float("inf")), ("lr", float("nan")), ("lr", 0.0), ("lr", -1e-3),
                ("weight_decay", float("nan")), ("weight_decay", float("inf")), ("weight_decay", -1.0),
                ("transferred_lr_scale", float("inf"))]


@pytest.mark.parametrize("name, value", SETTINGS_BAD, ids=[f"{n}={v}" for n, v in SETTINGS_BAD])
def test_non_finite_training_settings_are_refused_everywhere(name, value, tmp_path):
    from tlcore.experiments import TrainingConfig, pretrain
    from tlcore.sweep import run
    from tlcore.tasks import teacher_pair
    from tlcore.train import fit

    message = rf"{name}={value!r} must be a finite"
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**{name: value})
    with pytest.raises(ValueError, match=message):
        run("depth", {"alpha": [0.1]}, tmp_path, family="teacher", width=8, depth=2, **{name: value})
    assert not list(tmp_path.rglob("*.json"))  # nothing was computed, nothing cached
    task = teacher_pair(1, 0.2, seed=0, n_source=50, n_target_pool=50, n_test=20).source
    with pytest.raises(ValueError, match=message):
        pretrain(task, [0], width=8, depth=2, source_steps=2, **{name: value})
    if name != "transferred_lr_scale":
        with pytest.raises(ValueError, match=message):
            fit([MLP(task.in_dim, task.n_classes, width=8, depth=2, seed=0)], task.x_train, task.y_train,
                [torch.arange(10)], [0], steps=2, **{name: value})


def test_values_overflowing_float32_are_named_not_called_nan():
    from tlcore.validation import as_tensor

    x = np.zeros((4, 3))
    x[0, 0] = 1e308
    with pytest.raises(ValueError, match=r"x holds 1 value\(s\) too large for float32 \(up to 1e\+308"):
        as_tensor("x", x)
    with pytest.raises(ValueError, match="complex numbers"):
        as_tensor("x", x + 1j)
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"x holds 1 NaN or inf"):
        as_tensor("x", x)


def test_nan_in_evaluation_inputs_is_refused_not_scored():
    from tlcore.train import accuracy

    x, y = torch.randn(20, 6), torch.arange(20) % 3
    x[3, 2] = float("nan")
    with pytest.raises(ValueError, match=r"holds 1 NaN or inf value"):
        accuracy([MLP(6, 3, width=8, depth=2, seed=0)], x, y)
    with pytest.raises(ValueError, match=r"evaluation inputs holds 1 NaN or inf"):
        from tlcore.train import Ensemble

        Ensemble([MLP(6, 3, width=8, depth=2, seed=0)], "cpu").accuracy(x, y)


def test_sweep_refuses_networks_above_the_loaders_cap(tmp_path):
    from tlcore.sweep import run

    with pytest.raises(ValueError, match="more than the 50,000,000 that load_model reads"):
        run("depth", {"alpha": [0.1]}, tmp_path, family="teacher", width=100_000, depth=3)


# ---- the advice's plot and headline ------------------------------------------------------------
def _advice(protocols):
    from tlcore.advisor import advise, target_task

    d = np.random.default_rng(0)
    x, y = d.normal(size=(80, 6)), np.arange(80) % 2
    task, _ = target_task(x, y)
    return advise(task, {"src": MLP(6, 2, width=8, depth=2, seed=0)}, seeds=[0, 1], steps=5, protocols=protocols)


@pytest.mark.parametrize("protocols", ["prefix", "surgical", "all"])
def test_plot_works_for_every_protocol_set(protocols, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    advice = _advice(protocols)
    fig = advice.plot(tmp_path / "p.png")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    tried = advice.protocols[advice.protocols.source != ""]
    assert len(labels) == len(tried)  # one tick per protocol tried
    if protocols != "prefix":
        assert "TF" in labels  # a plan no prefix protocol expresses, by its code
    if protocols != "surgical":
        assert "(1, 0)" in labels
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_headline_says_when_no_source_was_tried():
    from tlcore.advisor import advise, target_task

    x, y = np.random.default_rng(0).normal(size=(80, 6)), np.arange(80) % 2
    task, _ = target_task(x, y)
    advice = advise(task, {"src": MLP(6, 2, width=8, depth=2, seed=0)}, seeds=[0], steps=5, budget_seconds=1e-9)
    assert "no source was tried" in advice.summary() and "no source helps" not in advice.summary()


# ---- signals: one line, exit 130 / 143, no temporary file --------------------------------------
def _env():
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "OMP_NUM_THREADS": "1"}


def _sigint_as_in_a_terminal():
    """preexec_fn: the child takes SIGINT as from a terminal even when this test run was started in the
    background, where SIGINT is ignored and a child would inherit that (Python then never raises
    KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_line(proc, start: str, timeout: float = 120) -> str:
    """Read the process's stderr until a line starting with ``start`` (the run is under way)."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith(start):
            return "".join(seen)
    proc.kill()
    raise AssertionError(f"the command never printed {start!r}: {''.join(seen)}")


def _communicate_or_kill(proc, timeout=60):
    """The output of a signalled process; one that has not stopped within ``timeout`` is killed and the
    attempt fails as an assertion (so that :func:`_up_to_three_times` retries it on a loaded machine)."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"the process had not stopped {timeout} s after the signal") from None


def _up_to_three_times(check, tmp_path):
    """Run a signal scenario in a fresh folder, at most three times: when a signal reaches the process
    depends on the machine's load, so one unlucky timing is retried, a real failure fails all three."""
    for attempt in range(3):
        folder = tmp_path / f"attempt{attempt}"
        folder.mkdir()
        try:
            return check(folder)
        except AssertionError:
            if attempt == 2:
                raise


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_stopped_advise_ends_with_one_line_and_leaves_no_temp_file(sig, code, word, tmp_path):
    _up_to_three_times(lambda folder: _stopped_advise(sig, code, word, folder), tmp_path)


def _stopped_advise(sig, code, word, tmp_path):
    data = _data(tmp_path, x=np.random.default_rng(1).normal(size=(60, 6)))
    model = tmp_path / "src.pt"
    save_model(MLP(6, 3, width=8, depth=2, seed=0), model)
    proc = subprocess.Popen([sys.executable, "-m", "tlcore", "advise", "--target", str(data), "--source", str(model),
                             "--steps", "200000", "--seeds", "2", "--json", str(tmp_path / "a.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path,
                            preexec_fn=_sigint_as_in_a_terminal)
    first = _wait_for_line(proc, "advise:")  # imports done, training under way
    proc.send_signal(sig)
    out, err = _communicate_or_kill(proc)
    err = first + err
    assert proc.returncode == code, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith(f"python -m tlcore: {word}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz", "src.pt"]


def test_a_terminated_book_run_leaves_no_temp_file(tmp_path):
    good = tmp_path / "prev.ipynb"
    good.write_text("an earlier good result")
    proc = subprocess.Popen([sys.executable, "-m", "tlcore.book", "--book", str(ROOT), "run", "tasks", "-o", str(good)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path,
                            preexec_fn=_sigint_as_in_a_terminal)
    first = _wait_for_line(proc, "Executing:")  # the kernel runs the chapter
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    err = first + err
    assert proc.returncode == 143, err
    # one line of ours (the kernel, a process of its own, may log its own shutdown)
    assert err.count("python -m tlcore.book: terminated (SIGTERM)") == 1 and "tlcore/book.py" not in err, err
    assert good.read_text() == "an earlier good result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prev.ipynb"]  # no .prev-*.ipynb


def test_book_run_refuses_a_folder_before_any_kernel_starts(tmp_path, capsys):
    from tlcore.book import main as book_main

    (tmp_path / "out.ipynb").mkdir()
    start = time.perf_counter()
    assert book_main(["--book", str(ROOT), "run", "tasks", "-o", str(tmp_path / "out.ipynb")]) == 2
    assert time.perf_counter() - start < 20  # refused, not run then failed
    err = capsys.readouterr().err
    assert "is a folder, not a file" in err and err.count("\n") == 1
    assert book_main(["--book", str(ROOT), "run", "tasks", "-o", str(tmp_path / "no" / "x.ipynb")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ipynb"]


# ---- shipped results ---------------------------------------------------------------------------
@pytest.mark.parametrize("content", ["[]", "{not json", '{"format": 1}'])
def test_a_broken_provenance_record_is_one_line(content, tmp_path, capsys):
    from tlcore.paper import shipped

    (tmp_path / "provenance.json").write_text(content)
    with pytest.raises(ValueError, match="provenance.json"):
        shipped("phase_teacher_mix", tmp_path)
    assert main(["paper-results", "--out", str(tmp_path), "--only", "phase_teacher_mix"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "provenance.json" in err and "Traceback" not in err


def test_paper_results_out_must_be_a_folder(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["paper-results", "--out", str(tmp_path / "f")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["paper-results", "--out", str(tmp_path / "no" / "deeper")]) == 2
    assert "does not exist" in capsys.readouterr().err


# ---- the sweep's cache under faults ------------------------------------------------------------
SMALL = dict(family="teacher", n_targets=[20], protocols=[(0, 0), (2, 0)], shared_depth=1, n_source=200,
             n_target_pool=100, n_test=100, width=8, depth=2, source_steps=10, steps=10)


def _cell_files(folder):
    return sorted((folder / "depth").glob("*.json"))


def test_a_folder_where_a_cache_file_should_be_does_not_abort_the_sweep(tmp_path):
    from tlcore.sweep import run

    first = run("depth", {"alpha": [0.1, 0.5]}, tmp_path, **SMALL)
    victim = _cell_files(tmp_path)[0]
    victim.unlink()
    victim.mkdir()
    (victim / "kept.txt").write_text("x")
    with pytest.warns(CorruptCacheWarning) as caught:
        again = run("depth", {"alpha": [0.1, 0.5]}, tmp_path, **SMALL)
    assert again.equals(first) and again.attrs["computed"] == 1
    messages = [str(w.message) for w in caught]
    assert sum(m.startswith("bad cache entry") and "a folder, not a regular file" in m for m in messages) == 1
    assert sum("set aside as" in m for m in messages) == 1  # each warning once
    assert victim.is_file() and len(list((tmp_path / "depth").glob("*.set-aside-*/kept.txt"))) == 1


def test_a_fifo_where_a_cache_file_should_be_never_hangs(tmp_path):
    from tlcore.sweep import run

    first = run("depth", {"alpha": [0.1]}, tmp_path, **SMALL)
    parquet = _cell_files(tmp_path)[0].with_suffix(".parquet")
    parquet.unlink()
    os.mkfifo(parquet)
    result = []
    worker = threading.Thread(target=lambda: result.append(
        subprocess.run([sys.executable, "-m", "tlcore", "cache", "list", str(tmp_path)], capture_output=True,
                       text=True, env=_env(), timeout=60)), daemon=True)
    worker.start()
    worker.join(90)
    assert result and result[0].returncode == 0 and "a FIFO, not a regular file" in result[0].stdout
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = run("depth", {"alpha": [0.1]}, tmp_path, **SMALL)
    assert again.equals(first) and again.attrs["computed"] == 1
    messages = [str(w.message) for w in caught]
    assert sum(m.startswith("bad cache entry") and "a FIFO" in m for m in messages) == 1  # once
    assert sum("set aside as" in m for m in messages) == 1
    assert parquet.is_file()


def test_a_corrupt_cell_is_reported_once(tmp_path):
    from tlcore.sweep import run

    run("depth", {"alpha": [0.1]}, tmp_path, **SMALL)
    parquet = _cell_files(tmp_path)[0].with_suffix(".parquet")
    parquet.write_bytes(parquet.read_bytes()[:-20])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run("depth", {"alpha": [0.1]}, tmp_path, **SMALL)
    assert len([w for w in caught if issubclass(w.category, CorruptCacheWarning)]) == 1


def test_cache_verify_on_runs_folder_finds_a_corrupt_cell(tmp_path, capsys):
    from tlcore.cache import main as cache_main
    from tlcore.sweep import run

    run("depth", {"alpha": [0.1]}, tmp_path, **SMALL)
    parquet = _cell_files(tmp_path)[0].with_suffix(".parquet")
    parquet.write_bytes(b"garbage")
    assert cache_main(["verify", str(tmp_path)]) == 1
    assert "checksum mismatch" in capsys.readouterr().out


def test_a_live_pid_of_another_process_does_not_make_run_wait(tmp_path):
    """A lock left before a container restart whose pid is alive again, as another process."""
    import socket

    from tlcore import cache as cache_module
    from tlcore.sweep import cell_config, run
    from tlcore.cache import config_key, StaleLockWarning

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        start = cache_module._start_time(other.pid)
        if start is None:
            pytest.skip("process start times are not readable here")
        key = config_key(cell_config("depth", {**SMALL, "alpha": 0.1}))
        (tmp_path / "depth").mkdir()
        (tmp_path / "depth" / f"{key}.lock").write_text(json.dumps(
            {"pid": other.pid, "host": socket.gethostname(), "time": time.time(), "token": "x",
             "boot": cache_module._BOOT, "start": start + 12345}))
        began = time.monotonic()
        with pytest.warns(StaleLockWarning, match="now belongs to another process"):
            table = run("depth", {"alpha": [0.1]}, tmp_path, **SMALL)
        assert table.attrs["computed"] == 1 and time.monotonic() - began < 120
    finally:
        other.kill()
        other.wait()


# ---- very large work: said before it starts, and a time budget holds inside one training call --
def test_huge_steps_are_announced_and_the_budget_stops_them_inside_a_call(tmp_path):
    data = _data(tmp_path, x=np.random.default_rng(1).normal(size=(60, 6)))
    model = tmp_path / "src.pt"
    save_model(MLP(6, 3, width=8, depth=2, seed=0), model)
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "tlcore", "advise", "--target", str(data), "--source", str(model),
                          "--steps", str(10 ** 9), "--seeds", "2", "--budget-seconds", "1"],
                         capture_output=True, text=True, env=_env(), timeout=120)
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if not line.startswith("advise: ") or "up to" in line]
    assert lines[0].startswith("advise: up to ") and "network-steps" in lines[0]  # said before it starts
    assert "--budget-seconds 1 bounds it" in lines[0]
    assert lines[-1].startswith("error: --budget-seconds 1 was overrun inside one training call")
    assert "Traceback" not in out.stderr and time.monotonic() - start < 90  # stopped at 1 + 10 s, not 10**9 steps


def test_train_source_says_what_huge_steps_will_cost_before_starting(tmp_path):
    _up_to_three_times(_huge_train_source, tmp_path)


def _huge_train_source(tmp_path):
    data = _data(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "tlcore", "train-source", "--data", str(data), "--out",
                             str(tmp_path / "m.pt"), "--steps", str(10 ** 12), "--width", "8", "--depth", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                            preexec_fn=_sigint_as_in_a_terminal)
    line = proc.stderr.readline()  # the estimate comes first, before the long training starts
    proc.send_signal(signal.SIGINT)
    rest = _communicate_or_kill(proc)[1]
    assert line.startswith("train-source: 1,000,000,000,000 steps will take about") and "years" in line, line
    assert proc.returncode == 130 and rest.strip().endswith("interrupted (Ctrl-C); no partial file was left")
    assert not (tmp_path / "m.pt").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]
