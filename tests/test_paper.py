"""The shipped paper-scale results: their provenance matches the files, a shipped cell recomputes to
the shipped numbers, and the machinery that makes and reads them refuses what it should."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tlcore import claims, paper
from tlcore.presets import SIZES, sizes
from tlcore.sweep import default_cache_dir, run

TINY = dict(family="teacher", n_targets=[20, 60], protocols=[(0, 0), (1, 1), (2, 0)], shared_depth=1,
            n_source=600, n_target_pool=300, n_test=300, width=16, depth=2, source_steps=60, steps=30,
            seeds=[0, 1, 2])


# ----------------------------------------------------------------------------- the shipped results

def test_every_claim_sweep_is_shipped_and_matches_its_provenance():
    record = paper.provenance()
    assert record is not None, "results/paper/provenance.json is missing: run `make paper-results`"
    assert set(record["tables"]) == set(claims.CLAIM_SWEEPS)
    assert paper.check_provenance() == []
    # made at the sizes the presets call paper scale, by the one documented command
    # (every family a shipped cell uses is in the record)
    swept = {cell["config"]["params"].get("family") for entry in record["tables"].values() for cell in entry["cells"]}
    assert swept - {None} <= set(record["sizes"]) <= set(SIZES)
    assert record["sizes"] == {family: sizes(False, family) for family in record["sizes"]}
    assert record["command"].startswith("python -m tlcore paper-results")
    for name, entry in record["tables"].items():
        assert entry["compute_seconds"] > 0
        for cell in entry["cells"]:
            params = cell["config"]["params"]
            if "width" in params:
                family = params["family"]
                assert params["width"] == sizes(False, family)["width"], (name, family)
    total = sum(p.stat().st_size for p in paper.results_dir().iterdir())
    assert total < 10e6, f"the shipped results take {total / 1e6:.1f} MB"


# Every shipped table is replicated over task instances (claims.REPLICATES).
REPLICATED = ["phase_teacher_mix", "phase_feature_mix", "representations", "representations_chmm", "selection",
              "selection_mnist1d", "deep_teacher_mix",
              "phase_teacher_mix_lr0.1", "images"]


def _check_instances(names):
    instances, _ = claims.replicates(False)
    record = paper.provenance()
    for name in names:
        task_seeds = sorted({cell["config"]["params"]["task_seed"] for cell in record["tables"][name]["cells"]})
        assert task_seeds == list(range(instances)), (name, task_seeds)
        table = paper.shipped(name)
        grid = [c for c in ("alpha", "teacher_mix", "feature_mix", "input_shift", "n_target") if c in table.columns]
        per_group = table.groupby(grid).task_seed.nunique() if grid else pd.Series([table.task_seed.nunique()])
        assert per_group.min() >= 5, (name, per_group.min())
        assert table.groupby("seed").task_seed.nunique().max() == 1, name


def test_every_replicated_table_has_at_least_five_task_instances_in_its_parquet_file():
    """Read from the data as well as the record: every group of the table's grid (knob value, target
    size) holds at least five task instances, and every seed id belongs to one instance."""
    _check_instances(REPLICATED)


def test_paper_scale_verdicts_come_from_the_shipped_tables():
    verdicts = paper.paper_verdicts()
    assert [v.claim for v in verdicts] == ["C1", "C2", "C3", "C4"]
    assert {v.verdict for v in verdicts} <= {"reproduced", "partly", "not reproduced"}


def test_the_cheapest_shipped_cell_recomputes_to_the_shipped_numbers():
    """The spot check: the cell re-run at its recorded configuration (on this machine's CPU) agrees
    with the shipped rows within the seed spread, group by group."""
    name, cell = paper.cheapest_cell()
    shipped_rows, recomputed = paper.recompute_cell(name, cell["key"], device="cpu")
    comparison = paper.compare_cell(shipped_rows, recomputed)
    assert len(comparison) > 0
    assert comparison.within.mean() >= 0.95, comparison[~comparison.within]
    # and the numbers are real results: the seeds spread (a cell of several), or the rows differ (one seed)
    assert (comparison["sem"] > 0).any() or comparison.shipped.nunique() > len(comparison) // 2


# ----------------------------------------------------------------------------- making and reading

@pytest.fixture
def tiny_results(tmp_path, monkeypatch):
    """A folder of shipped results made by make_results from one tiny sweep."""
    monkeypatch.setenv("TLCORE_CACHE_DIR", str(tmp_path / "cache"))
    sweeps = {"tiny": lambda quick, device: run("depth", {"alpha": [0.0, 1.0]}, default_cache_dir(),
                                                device=device, **TINY)}
    monkeypatch.setattr(paper, "CLAIM_SWEEPS", sweeps)
    folder = tmp_path / "results"
    record = paper.make_results(folder, device="cpu", command="test", log=lambda _: None)
    return folder, record


def test_make_results_writes_tables_with_their_provenance(tiny_results):
    folder, record = tiny_results
    assert paper.check_provenance(folder) == []
    entry = record["tables"]["tiny"]
    table = paper.shipped("tiny", folder)
    assert len(table) == entry["rows"] == 2 * 2 * 3 * 3
    assert [c["rows"] for c in entry["cells"]] == [18, 18]
    assert [c["config"]["params"]["alpha"] for c in entry["cells"]] == [0.0, 1.0]
    assert record["command"] == "test" and record["code"] == entry["cells"][0]["config"]["code"]
    assert entry["compute_seconds"] > 0


def test_a_recomputed_cell_is_identical_and_a_changed_one_is_caught(tiny_results):
    folder, record = tiny_results
    key = record["tables"]["tiny"]["cells"][1]["key"]
    shipped_rows, recomputed = paper.recompute_cell("tiny", key, folder)
    assert shipped_rows.alpha.unique().tolist() == [1.0]
    comparison = paper.compare_cell(shipped_rows, recomputed)
    assert comparison.within.all() and np.allclose(comparison.difference, 0.0)
    worse = recomputed.assign(test_acc=recomputed.test_acc - 0.2)
    caught = paper.compare_cell(shipped_rows, worse)
    assert not caught[caught.column == "test_acc"].within.any()
    with pytest.raises(ValueError, match="rows"):
        paper.compare_cell(shipped_rows, recomputed.iloc[:-1])


def test_edited_or_unlisted_files_are_reported(tiny_results):
    folder, _ = tiny_results
    data = bytearray((folder / "tiny.parquet").read_bytes())
    data[-20] ^= 1
    (folder / "tiny.parquet").write_bytes(bytes(data))
    (folder / "stray.parquet").write_bytes(b"")
    problems = paper.check_provenance(folder)
    assert any("checksum" in p for p in problems) and any("stray.parquet" in p for p in problems)
    with pytest.raises(ValueError, match="checksum"):
        paper.shipped("tiny", folder)


def test_nothing_shipped_reads_as_none(tmp_path):
    assert paper.provenance(tmp_path) is None
    assert paper.shipped("selection", tmp_path) is None
    assert paper.paper_verdicts(tmp_path) is None
    assert paper.describe(tmp_path) is None
    with pytest.raises(ValueError, match="unknown claim sweep"):
        paper.shipped("nonsense", tmp_path)


def test_bad_requests_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown claim sweep 'nonsense'"):
        paper.make_results(tmp_path, ["nonsense"])
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="cannot write the results folder"):
        paper.make_results(blocker / "results", ["representations"])


@pytest.mark.parametrize("args, message", [
    (["--only", "nonsense"], "unknown claim sweep 'nonsense'"),
    (["--device", "tpu"], "unknown device 'tpu'"),
])
def test_cli_refuses_bad_input_in_one_line(args, message, tmp_path):
    out = subprocess.run([sys.executable, "-m", "tlcore", "paper-results", "--out", str(tmp_path), *args],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"error: {out.stderr.strip()[7:]}"]
    assert message in out.stderr
    assert not (tmp_path / "provenance.json").exists()


def test_verdict_agreement_and_its_words():
    quick = [claims.Verdict("C1", "reproduced", ""), claims.Verdict("C2", "partly", "")]
    paper_v = [claims.Verdict("C1", "reproduced", ""), claims.Verdict("C2", "not reproduced", "")]
    table = claims.verdict_agreement(quick, paper_v)
    assert table.agree.tolist() == [True, False]
    assert "same verdict" in paper.agreement_text(quick[0], paper_v[0])
    assert "a different verdict from quick mode's (partly)" in paper.agreement_text(quick[1], paper_v[1])
    assert json.dumps(table.to_dict())  # plain data


def test_the_claim_sweeps_still_ask_for_the_shipped_cells_at_paper_scale(monkeypatch):
    """A default of a claim sweep that changes (a grid, a variant list, the replicates) would make the
    shipped tables answer another question than the code asks: every paper-scale cell the code
    requests must have the parameters of the shipped cell in its place (the device aside)."""
    from tlcore import sweep
    from tlcore.cache.common import _plain

    asked = []

    def record(experiment, grid, cache_dir, executor=None, progress=None, **fixed):
        asked.extend(sweep.cell_config(experiment, p)["params"] for p in sweep._cells(grid, fixed)[1])
        out = pd.DataFrame({"seed": []})
        out.attrs.update(computed=0, cached=0, cells=[])
        return out

    monkeypatch.setattr(sweep, "run", record)
    record_ = paper.provenance()
    for name, make in claims.CLAIM_SWEEPS.items():
        asked.clear()
        make(False, "cpu")
        shipped = [c["config"]["params"] for c in record_["tables"][name]["cells"]]
        plain = [{k: v for k, v in _plain(p).items() if k != "device"} for p in asked]
        assert plain == [{k: v for k, v in p.items() if k != "device"} for p in shipped], name
