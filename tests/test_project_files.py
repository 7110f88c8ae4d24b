"""The licence and the citation file say what pyproject.toml and the library say."""
import tomllib
from pathlib import Path

import yaml

import tlcore

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_the_mit_licence_pyproject_declares():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    text = (ROOT / "LICENSE").read_text()
    assert declared == "MIT" and text.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in text and "WITHOUT WARRANTY OF ANY KIND" in text


def test_citation_names_the_paper_and_this_version():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["message"] and cff["authors"]
    assert str(cff["version"]) == tlcore.__version__
    assert cff["license"] == "MIT"
    paper = cff["preferred-citation"]
    assert paper["title"].startswith("How to choose the right transfer learning protocol?")
    assert [a["family-names"] for a in paper["authors"]] == ["Gerace", "Doimo", "Sarao Mannelli", "Saglietti", "Laio"]
    assert paper["journal"] == "Transactions on Machine Learning Research" and paper["year"] == 2024


def test_shipped_benchmark_records_hold_what_the_scale_chapter_reads(tmp_path):
    from datetime import datetime

    from tlcore.benchmark import benchmark_record, save_benchmark, shipped_benchmark

    for name, wanted in {"book": {"book_build_s", "book_rebuild_unchanged_s"},
                         "similarity": {"imbalance_speedup_n10000", "overlap_speedup_n10000", "max_abs_diff_n10000"},
                         "memory": {"peak_rss_depth_sweep_quick_mb"}}.items():
        record = shipped_benchmark(name)
        assert record is not None, f"results/benchmarks/{name}.json is not shipped"
        assert record["benchmark"] == name and record["machine"] and datetime.fromisoformat(record["created"])
        assert wanted <= set(record["results"]) and all(isinstance(v, float) for v in record["results"].values())
    # a record written by a script reads back whole; an absent one is None, not an error
    save_benchmark(tmp_path / "x.json", benchmark_record("x", {"ratio": 2}, "cpu"))
    assert shipped_benchmark("x", tmp_path)["results"] == {"ratio": 2.0}
    assert shipped_benchmark("absent", tmp_path) is None
