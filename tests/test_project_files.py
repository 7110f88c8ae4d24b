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
