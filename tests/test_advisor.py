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
from tlcore.experiments import pretrain
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
                  "--json", out, "--steps", "150", "--seeds", "2", "--plot", files / "advice.png")
    assert result.returncode == 0, result.stderr
    assert "Recommendation:" in result.stdout
    assert (files / "advice.png").read_bytes()[:4] == b"\x89PNG" and "written" in result.stdout
    advice = json.loads(out.read_text())
    rec = advice["recommendation"]
    assert rec["source"] in {"near", "far"} and 0 <= rec["frozen_depth"] <= rec["transfer_depth"] <= 2
    assert rec["val_acc"] == max(p["val_acc"] for p in advice["protocols"])
    assert advice["sources"][0]["source"] == "near"  # the related source ranks first
    assert {p["protocol"] for p in advice["protocols"]} >= {"scratch", "transfer 2, freeze 2"}
    assert advice["format_version"] == 1
    table = {(p["source"], p["transfer_depth"], p["frozen_depth"]): p["val_acc"] for p in advice["protocols"]}
    assert sum(1 for key in table if key[1:] == (0, 0)) == 1  # scratch once, whatever the sources
    if rec["transfer_depth"]:  # paired margins: with the same seeds, the mean difference of the means
        assert rec["margin_over_scratch"] == pytest.approx(rec["val_acc"] - table[("", 0, 0)], abs=1e-9)
    assert "SE over 2 seeds" in result.stdout and "e-0" not in result.stdout  # no float noise
    assert "advise: 100%" in result.stderr and "\r" not in result.stderr  # progress as plain lines in a log


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
    assert advice.recommendation["source"] in {"random", ""} and "test_acc" not in advice.recommendation
    assert "Recommendation" in str(advice)


def _csv(folder, header, rows):
    path = folder / f"c{len(list(folder.iterdir()))}.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _near_copy(f, t):
    (t / "other").mkdir(exist_ok=True)
    (t / "other" / "near.pt").write_bytes((f / "near.pt").read_bytes())
    return t / "other" / "near.pt"


def _target(f):
    return ["--target", f / "target.npz", "--source", f / "near.pt"]


BAD = [
    ("no label column, never guessed", lambda f, t: ["--target", _csv(t, "a,b", ["0.1,1", "0.2,0"]),
                                                     "--source", f / "near.pt"], "no label column 'label'"),
    ("text feature column", lambda f, t: ["--target", _csv(t, "a,label", ["x,1", "y,0"]),
                                          "--source", f / "near.pt"], "are not numeric"),
    ("too few examples of a class", lambda f, t: ["--target", _npz(t, x=np.random.rand(11, 16), y=np.arange(11) % 3 % 2 + (np.arange(11) == 10) * 2),
                                            "--source", f / "near.pt"], "at least 4 per class are needed"),
    ("duplicate source names", lambda f, t: [*_target(f), "--source", _near_copy(f, t)], "share the name 'near'"),
    ("budget of zero", lambda f, t: [*_target(f), "--budget", "0"], "--budget 0 must be at least 1"),
    ("zero steps", lambda f, t: [*_target(f), "--steps", "0"], "--steps 0 must be at least 1"),
    ("zero seeds", lambda f, t: [*_target(f), "--seeds", "0"], "--seeds 0 must be at least 1"),
    ("similarity with one seed", lambda f, t: [*_target(f), "--strategy", "similarity", "--seeds", "1"],
     "strategy 'similarity' needs at least 2 seeds"),
    ("unknown device", lambda f, t: [*_target(f), "--device", "tpu"], "unknown device 'tpu'"),
    ("json into a missing folder", lambda f, t: [*_target(f), "--json", t / "no" / "a.json"], "does not exist"),
    ("plot into a missing folder", lambda f, t: [*_target(f), "--plot", t / "no" / "a.png"], "--plot"),
    ("plot of an unknown format", lambda f, t: [*_target(f), "--plot", t / "a.txt"], "must end in .png"),
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
    # outputs: checked before any work, never one of the inputs
    ("json onto the target file", lambda f, t: ["--target", _copy(f / "target.npz", t / "t.npz"), "--source",
                                                f / "near.pt", "--json", t / "t.npz"], "is the input file"),
    ("json onto a model, through a link", lambda f, t: [*_target(f), "--json", _link(t / "a.json", f / "near.pt")],
     "is the input file"),
    ("plot onto a model", lambda f, t: ["--target", f / "target.npz", "--source", _copy(f / "near.pt", t / "m.png"),
                                        "--plot", t / "m.png"], "is the input file"),
    ("json is a folder", lambda f, t: [*_target(f), "--json", _folder(t / "out.json")], "is a folder, not a file"),
    ("json and plot the same file", lambda f, t: [*_target(f), "--json", t / "a.png", "--plot", t / "a.png"],
     "name the same file"),
    # numbers: every array checked where it enters
    ("NaN in x_test", lambda f, t: ["--target", _npz(t, x=_x(), y=_y(), x_test=_x(10, nan=1), y_test=_y(10)),
                                    "--source", f / "near.pt"], "x_test holds 1 NaN or inf value(s)"),
    ("inf in x_test", lambda f, t: ["--target", _npz(t, x=_x(), y=_y(), x_test=_x(10, inf=2), y_test=_y(10)),
                                    "--source", f / "near.pt"], "x_test holds 2 NaN or inf value(s)"),
    ("complex features", lambda f, t: ["--target", _npz(t, x=_x() + 1j, y=_y()), "--source", f / "near.pt"],
     "x holds complex numbers"),
    ("values beyond float32", lambda f, t: ["--target", _npz(t, x=_x(big=1e308), y=_y()), "--source", f / "near.pt"],
     "x holds values up to 1e+308, beyond float32's range"),
    ("beyond float32, raw features", lambda f, t: ["--target", _npz(t, x=_x(big=1e39), y=_y()), "--source",
                                                   f / "near.pt", "--no-standardise"], "beyond float32's range"),
    ("two label columns in a CSV", lambda f, t: ["--target", _csv(t, "a,label,label", ["0.1,1,0", "0.2,0,1"]),
                                                 "--source", f / "near.pt"], "more than one column named 'label'"),
    ("non-integer y_test", lambda f, t: ["--target", _npz(t, x=_x(), y=_y(), x_test=_x(10), y_test=_y(10) + 0.5),
                                         "--source", f / "near.pt"], "labels must be integers"),
    ("budget of inf seconds", lambda f, t: [*_target(f), "--budget-seconds", "inf"], "must be a positive number"),
    ("seeds beyond any machine's memory", lambda f, t: [*_target(f), "--seeds", "1000000"],
     "--seeds 1000000 would train 5,000,000 networks of up to 612 parameters"),
]


def _x(n=40, nan=0, inf=0, big=None):
    x = np.random.default_rng(0).normal(size=(n, 16))
    x[:nan, 0] = np.nan
    x[nan:nan + inf, 1] = np.inf
    if big is not None:
        x[::2, 3], x[1::2, 3] = big, -big
    return x


def _y(n=40):
    return np.arange(n) % 4


def _copy(src, dst):
    dst.write_bytes(src.read_bytes())
    return dst


def _link(path, target):
    path.symlink_to(target)
    return path


def _folder(path):
    path.mkdir()
    return path


def _npz(folder, **arrays):
    path = folder / f"d{len(list(folder.iterdir()))}.npz"
    np.savez(path, **arrays)
    return path


def _bytes(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("what, args, message", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_exit_nonzero_with_one_clear_error(what, args, message, files, tmp_path, capsys):
    argv = [*map(str, args(files, tmp_path))]
    code = main(["advise", *argv, *([] if "--steps" in argv else ["--steps", "10"])])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1, err


def test_cuda_on_a_machine_without_it_is_refused(files, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["advise", *map(str, _target(files)), "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_json_is_strict_and_nan_free(files):
    d = np.load(files / "target.npz")
    task, _ = target_task(d["x"], d["y"])
    advice = advise(task, {"near": MLP(task.in_dim, 4, width=16, depth=2, seed=0)}, seeds=[0, 1], steps=20,
                    budget_networks=4)  # the budget leaves no room for (L, L): its margin is absent
    text = advice.to_json()
    assert "NaN" not in text and json.loads(text)["format_version"] == 1


def test_time_budget_is_checked_between_training_calls(files):
    d = np.load(files / "target.npz")
    task, _ = target_task(d["x"], d["y"], d["x_test"], d["y_test"])
    sources = {name: MLP(task.in_dim, 4, width=16, depth=2, seed=i) for i, name in enumerate("ab")}
    advice = advise(task, sources, seeds=[0], steps=30, budget_seconds=1e-6)
    # the ranking's training call runs; nothing after it does, and the advice says so
    assert advice.recommendation["networks_trained"] == 1 and "test_acc" not in advice.recommendation
    assert any("not tried" in n for n in advice.notes) and any("overshot by" in n for n in advice.notes)


def test_similarity_strategy_predicts_from_the_profile_and_trains_little(files):
    out = files / "cheap.json"
    result = _run("--target", files / "target.npz", "--source", files / "near.pt", "--source", files / "far.pt",
                  "--json", out, "--steps", "150", "--seeds", "3", "--strategy", "similarity",
                  "--plot", files / "cheap.png")
    assert result.returncode == 0, result.stderr
    assert (files / "cheap.png").read_bytes()[:4] == b"\x89PNG"
    advice = json.loads(out.read_text())
    rec = advice["recommendation"]
    assert rec["strategy"] == "similarity" and rec["source"] in {"near", ""}
    assert len(rec["normalised_profile"]) == 2
    # scratch networks (3, ranking and twins at once), the predicted protocol (3 unless scratch), the refit (3)
    assert rec["networks_trained"] <= 9
    assert rec["frozen_depth"] == 0  # the predictor transfers a prefix and fine-tunes it
    search = json.loads((files / "advice.json").read_text()) if (files / "advice.json").exists() else None
    if search is not None:
        assert rec["networks_trained"] < search["recommendation"]["networks_trained"]


def test_similarity_strategy_follows_the_profile(files):
    d = np.load(files / "target.npz")
    task, _ = target_task(d["x"], d["y"])
    # an identical source: trained on the target's own examples like the scratch networks, another seed
    identical = pretrain(task, [5], width=16, depth=2, source_steps=150)[0][0]
    untrained = MLP(task.in_dim, 4, width=16, depth=2, seed=3)
    cheap = {name: advise(task, {name: model}, seeds=[0, 1, 2], steps=150, strategy="similarity")
             for name, model in (("identical", identical), ("untrained", untrained))}
    # a source with no learned features sits on the floor: scratch; the identical one is transferred whole
    assert cheap["untrained"].recommendation["transfer_depth"] == 0, cheap["untrained"].notes
    assert cheap["identical"].recommendation["transfer_depth"] == 2, cheap["identical"].notes
    with pytest.raises(ValueError, match="needs at least 2 seeds"):
        advise(task, {"near": identical}, seeds=[0], strategy="similarity")
    with pytest.raises(ValueError, match="unknown strategy 'guess'"):
        advise(task, {"near": identical}, seeds=[0, 1], strategy="guess")


def test_search_over_surgical_plans_reports_each_plan(files):
    out = files / "surgical.json"
    result = _run("--target", files / "target.npz", "--source", files / "near.pt", "--json", out, "--steps", "100",
                  "--seeds", "2", "--protocols", "all")
    assert result.returncode == 0, result.stderr
    advice = json.loads(out.read_text())
    plans = {p["plan"] for p in advice["protocols"]}
    assert plans == {"RR", "TR", "FR", "TT", "FT", "FF", "TF"}  # prefix protocols and {T, F}^2, scratch once
    tf = next(p for p in advice["protocols"] if p["plan"] == "TF")  # no prefix protocol trains block 1 only
    assert tf["transfer_depth"] is None and tf["frozen_depth"] is None and tf["protocol"].startswith("surgical TF")
    assert advice["recommendation"]["plan"] in plans
    only = json.loads(_run("--target", files / "target.npz", "--source", files / "near.pt", "--json", out,
                           "--steps", "50", "--seeds", "2", "--protocols", "surgical").stdout and out.read_text())
    assert {p["plan"] for p in only["protocols"]} == {"RR", "TT", "FT", "FF", "TF"}
