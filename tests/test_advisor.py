"""The protocol advisor: library call and command line, on files a user writes with NumPy alone."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from tlcore.__main__ import main
from tlcore.advisor import advise, target_task
from tlcore.models import MLP, save_model
from tlcore.sweep import pretrain
from tlcore.tasks import teacher_pair

FAST = dict(width=16, depth=2, source_steps=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("advise")
    pair = teacher_pair(1, 0.2, seed=0, n_source=1500, n_target_pool=300, n_test=400)
    unrelated = teacher_pair(0, 1.57, seed=7, n_source=100, n_target_pool=1500, n_test=100).target
    save_model(pretrain(pair.source, [0], **FAST)[0][0], folder / "near.pt")
    save_model(pretrain(unrelated, [0], **FAST)[0][0], folder / "far.pt")
    target = pair.target.subsample(120, seed=0)
    np.savez(folder / "target.npz", x=target.x_train.numpy(), y=target.y_train.numpy(),
             x_test=pair.target.x_test.numpy(), y_test=pair.target.y_test.numpy())
    return folder


def _run(*args):
    return subprocess.run([sys.executable, "-m", "tlcore", "advise", *map(str, args)], capture_output=True, text=True)


def test_cli_advises_and_writes_json(files):
    out = files / "advice.json"
    result = _run("--target", files / "target.npz", "--source", files / "near.pt", "--source", files / "far.pt",
                  "--json", out, "--steps", "150", "--seeds", "2")
    assert result.returncode == 0, result.stderr
    assert "Recommendation: transfer from" in result.stdout
    advice = json.loads(out.read_text())
    rec = advice["recommendation"]
    assert rec["source"] in {"near", "far"} and 0 <= rec["frozen_depth"] <= rec["transfer_depth"] <= 2
    assert rec["val_acc"] == max(p["val_acc"] for p in advice["protocols"])
    assert advice["sources"][0]["source"] == "near"  # the related source ranks first
    assert {p["protocol"] for p in advice["protocols"]} >= {"scratch", "transfer 2, freeze 2"}
    assert 0 <= rec["test_acc"] <= 1 and rec["scratch_acc"] <= rec["val_acc"]


def test_csv_input_and_budget(files, tmp_path):
    d = np.load(files / "target.npz")
    header = ",".join([f"f{i}" for i in range(d["x"].shape[1])] + ["label"])
    rows = np.column_stack([d["x"], d["y"]])
    np.savetxt(tmp_path / "t.csv", rows, delimiter=",", header=header, comments="", fmt="%.6g")
    out = tmp_path / "a.json"
    result = _run("--target", tmp_path / "t.csv", "--source", files / "near.pt", "--source", files / "far.pt",
                  "--budget", "10", "--json", out, "--steps", "100", "--seeds", "2")
    assert result.returncode == 0, result.stderr
    advice = json.loads(out.read_text())
    assert advice["recommendation"]["networks_trained"] <= 10 and advice["notes"]
    too_small = _run("--target", tmp_path / "t.csv", "--source", files / "near.pt", "--budget", "3", "--seeds", "2")
    assert too_small.returncode == 2 and "budget_networks=3 is too small" in too_small.stderr


def test_library_call_matches_task_api(files):
    d = np.load(files / "target.npz")
    task, classes = target_task(d["x"], d["y"] + 10)
    assert classes.tolist() == [10, 11, 12, 13] and task.y_train.max() == 3
    source = MLP(task.in_dim, 4, width=16, depth=2, seed=0)
    advice = advise(task, {"random": source}, seeds=[0], steps=50)
    assert advice.recommendation["source"] == "random" and "test_acc" not in advice.recommendation
    assert "Recommendation" in str(advice)


BAD = [
    ("missing file", lambda f, t: ["--target", t / "nope.npz", "--source", f / "near.pt"], "no data file"),
    ("wrong array names", lambda f, t: ["--target", _npz(t, a=np.zeros((5, 16)), b=np.zeros(5)),
                                        "--source", f / "near.pt"], "lacks array(s) ['x', 'y']"),
    ("labels not integers", lambda f, t: ["--target", _npz(t, x=np.random.rand(20, 16), y=np.random.rand(20)),
                                          "--source", f / "near.pt"], "labels must be integers"),
    ("feature size mismatch", lambda f, t: ["--target", _npz(t, x=np.random.rand(20, 5), y=np.arange(20) % 2),
                                            "--source", f / "near.pt"], "feature size mismatch"),
    ("corrupt model", lambda f, t: ["--target", f / "target.npz", "--source", _bytes(t / "bad.pt", b"junk")],
     "not a tlcore model file"),
    ("empty data set", lambda f, t: ["--target", _npz(t, x=np.zeros((0, 16)), y=np.zeros(0, int)),
                                     "--source", f / "near.pt"], "empty"),
]


def _npz(folder, **arrays):
    path = folder / f"d{len(list(folder.iterdir()))}.npz"
    np.savez(path, **arrays)
    return path


def _bytes(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("what, args, message", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_exit_nonzero_with_one_clear_error(what, args, message, files, tmp_path, capsys):
    code = main(["advise", *map(str, args(files, tmp_path)), "--steps", "10"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1, err
