"""The book's paper-scale results: made once by one command, shipped as data with their provenance.

:func:`make_results` runs every sweep of :data:`tlcore.claims.CLAIM_SWEEPS` at paper sizes
(``quick=False``) through the sweep cache, so a stopped run resumes at the first unfinished cell,
and writes one Parquet table per sweep and ``provenance.json`` to ``results/paper``: the command,
date, machine, package versions, and for each table its code fingerprint, checksum, rows and
compute time, and the exact configuration of every cell in it. Chapters read the tables with
:func:`shipped` (checked against their checksums) and :func:`paper_verdicts`; :func:`recompute_cell`
and :func:`compare_cell` let anyone re-run one shipped cell and check it against the file.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ._version import __version__
from .cache import ResultsCache
from .files import write_atomic
from .claims import CLAIM_INPUTS, CLAIM_SWEEPS, Verdict, verdicts_from
from .experiments import EXPERIMENTS
from .presets import SIZES, sizes
from .sweep import code_fingerprint, default_cache_dir
from .tasks import family_info

__all__ = ["results_dir", "make_results", "provenance", "shipped", "shipped_tables", "paper_verdicts",
           "check_provenance", "cheapest_cell", "recompute_cell", "compare_cell", "describe", "agreement_text", "parameters",
           "compute_seconds",
           "PROVENANCE"]

PROVENANCE = "provenance.json"
_FORMAT = 1
_REPO = Path(__file__).resolve().parent.parent


def results_dir() -> Path:
    """Where the shipped tables live: ``$TLCORE_PAPER_RESULTS`` or ``results/paper`` in the repository."""
    return Path(os.environ.get("TLCORE_PAPER_RESULTS", _REPO / "results" / "paper"))


def _versions() -> dict:
    import scipy
    import torch

    return {"python": platform.python_version(), "tlcore": __version__, "torch": torch.__version__,
            "numpy": np.__version__, "pandas": pd.__version__, "scipy": scipy.__version__}


def _machine(device: str) -> dict:
    import torch

    from .validation import resolve_device

    dev = resolve_device(device)
    return {"platform": platform.platform(), "processor": _cpu_name(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": dev.type,
            "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None}


def _cpu_name() -> str:
    """The CPU's model name where the system says it (Linux), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(_REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        dirty = subprocess.run(["git", "-C", str(_REPO), "status", "--porcelain", "--", "tlcore"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+uncommitted changes in tlcore/" if dirty.stdout.strip() else "")


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"cannot write the results folder {str(folder)!r} ({exc.strerror or exc})") from None


def provenance(folder=None) -> dict | None:
    """The provenance record of the shipped results, or None when nothing is shipped."""
    path = Path(folder or results_dir()) / PROVENANCE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_bytes())
    except ValueError:
        raise ValueError(f"{str(path)!r} is not valid JSON; remove it or re-make the results") from None
    except OSError as exc:
        raise ValueError(f"{str(path)!r} cannot be read ({exc.strerror or exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("tables"), dict):
        what = f"a JSON {type(record).__name__}" if not isinstance(record, dict) else "an object without 'tables'"
        raise ValueError(f"{str(path)!r} holds {what}, not a provenance record; remove it or re-make the results")
    return record


def make_results(folder=None, names=None, device: str = "auto", command: str | None = None,
                 log=print) -> dict:
    """Run the claim sweeps at paper sizes and write their tables and provenance to ``folder``.

    ``names`` picks sweeps of :data:`tlcore.claims.CLAIM_SWEEPS` (default: all). The folder is
    checked for writing before any work; the provenance is rewritten after every table, so a stop
    keeps every table already written (and the sweep cache keeps every finished cell).
    """
    folder = Path(folder or results_dir())
    names = list(CLAIM_SWEEPS) if names is None else list(names)
    for name in names:
        if name not in CLAIM_SWEEPS:
            raise ValueError(f"unknown claim sweep {name!r}; expected one of {sorted(CLAIM_SWEEPS)}")
    _check_writable(folder)
    record = provenance(folder) or {}
    tables = dict(record.get("tables", {}))
    for name in names:
        start = time.perf_counter()
        table = CLAIM_SWEEPS[name](False, device)
        wall = time.perf_counter() - start
        experiment, keys = table.attrs["experiment"], table.attrs["cells"]
        cache = ResultsCache(default_cache_dir() / experiment)
        cells, offset = [], 0
        for key in keys:
            cell = cache.record(key)
            if cell is None:
                raise RuntimeError(f"cell {key} of {name!r} is missing from the sweep cache it was just read from")
            cells.append({"key": key, "offset": offset, "rows": cell["rows"], "seconds": cell.get("seconds"),
                          "created": cell.get("created"), "config": cell["config"]})
            offset += cell["rows"]
        buf = io.BytesIO()
        table.to_parquet(buf, engine="pyarrow", index=False)
        data = buf.getvalue()
        write_atomic(folder / f"{name}.parquet", data)
        seconds = [c["seconds"] for c in cells]
        tables[name] = {"file": f"{name}.parquet", "sha256": hashlib.sha256(data).hexdigest(), "rows": len(table),
                        "columns": list(table.columns), "experiment": experiment, "code": cells[0]["config"]["code"],
                        "compute_seconds": None if None in seconds else round(sum(seconds), 1),
                        "cells": cells}
        record = {"format": _FORMAT, "command": command or " ".join(sys.argv),
                  "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "code": tables[name]["code"], "git": _git_commit(), "versions": _versions(),
                  "machine": _machine(device), "sizes": {f: sizes(False, f) for f in SIZES}, "tables": tables}
        write_atomic(folder / PROVENANCE, (json.dumps(record, indent=1) + "\n").encode())
        took = tables[name]["compute_seconds"]
        log(f"{name}: {len(table)} rows in {len(cells)} cells, computed in "
            f"{'?' if took is None else f'{took:.0f}'} s (this call {wall:.0f} s)")
    return record


def _read(folder: Path, entry: dict) -> pd.DataFrame:
    data = (folder / entry["file"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise ValueError(f"{folder / entry['file']} does not match its checksum in {PROVENANCE}; "
                         "re-make it with `make paper-results`")
    return pd.read_parquet(io.BytesIO(data), engine="pyarrow")


def shipped(name: str, folder=None) -> pd.DataFrame | None:
    """The shipped paper-scale table ``name`` (checked against its checksum); None when not shipped."""
    if name not in CLAIM_SWEEPS:
        raise ValueError(f"unknown claim sweep {name!r}; expected one of {sorted(CLAIM_SWEEPS)}")
    folder = Path(folder or results_dir())
    record = provenance(folder)
    if record is None or name not in record["tables"]:
        return None
    return _read(folder, record["tables"][name])


def shipped_tables(folder=None) -> dict[str, pd.DataFrame]:
    """Every shipped table by name (an empty dict when nothing is shipped)."""
    record = provenance(folder) or {"tables": {}}
    return {name: shipped(name, folder) for name in record["tables"] if name in CLAIM_SWEEPS}


def paper_verdicts(folder=None) -> list[Verdict] | None:
    """Every claim's verdict from the shipped tables; None unless all the tables they need are shipped."""
    tables = shipped_tables(folder)
    if not {n for names in CLAIM_INPUTS.values() for n in names} <= set(tables):
        return None
    return verdicts_from(tables, quick=False)


def check_provenance(folder=None) -> list[str]:
    """What does not match between the provenance record and the files (an empty list: all is well)."""
    folder = Path(folder or results_dir())
    record = provenance(folder)
    if record is None:
        return [f"no {PROVENANCE} in {folder}"]
    problems = []
    listed = {entry["file"] for entry in record["tables"].values()}
    for extra in sorted(p.name for p in folder.glob("*.parquet") if p.name not in listed):
        problems.append(f"{extra} is not in the provenance record")
    for name, entry in record["tables"].items():
        path = folder / entry["file"]
        if not path.exists():
            problems.append(f"{entry['file']} is missing")
            continue
        try:
            table = _read(folder, entry)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if len(table) != entry["rows"] or list(table.columns) != entry["columns"]:
            problems.append(f"{entry['file']}: {len(table)} rows and columns {list(table.columns)}, "
                            f"the record says {entry['rows']} and {entry['columns']}")
        if sum(c["rows"] for c in entry["cells"]) != entry["rows"]:
            problems.append(f"{name}: its cells' rows do not add up to the table's")
        for cell in entry["cells"]:
            code = entry.get("code", record["code"])  # per table since a run may be resumed by newer code
            if cell["config"].get("code") != code:
                problems.append(f"{name}: cell {cell['key']} was computed by other code "
                                f"({cell['config'].get('code')}, the record says {code})")
    return problems


def cheapest_cell(folder=None) -> tuple[str, dict]:
    """``(table name, cell)`` of the shipped cell that took the least time to compute."""
    record = provenance(folder)
    if record is None:
        raise ValueError(f"no shipped results in {folder or results_dir()}")
    cells = [(c["seconds"], name, c) for name, e in record["tables"].items() for c in e["cells"]
             if c.get("seconds") is not None]
    if not cells:
        raise ValueError("no shipped cell records its compute time")
    _, name, cell = min(cells, key=lambda c: c[0])
    return name, cell


def recompute_cell(name: str, key: str, folder=None, device: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(shipped rows, recomputed table)`` of one shipped cell, re-run at its recorded configuration.

    ``device`` overrides the recorded one (None keeps it; ``"cpu"`` re-runs a GPU cell on a CPU).
    """
    record = provenance(folder)
    if record is None or name not in record["tables"]:
        raise ValueError(f"{name!r} is not shipped in {folder or results_dir()}")
    entry = record["tables"][name]
    matches = [c for c in entry["cells"] if c["key"] == key]
    if not matches:
        raise ValueError(f"no cell {key!r} in {name!r}")
    cell = matches[0]
    params = dict(cell["config"]["params"])
    if device is not None:
        params["device"] = device
    table = EXPERIMENTS[cell["config"]["experiment"]](**params)
    rows = shipped(name, folder).iloc[cell["offset"]:cell["offset"] + cell["rows"]].reset_index(drop=True)
    return rows, table


def compare_cell(shipped_rows: pd.DataFrame, recomputed: pd.DataFrame, seed: str = "seed",
                 spread: float = 3.0) -> pd.DataFrame:
    """Per group of rows that differ only by ``seed``, and per numeric result column: the shipped and
    recomputed means over seeds, their difference and whether it lies within ``spread`` standard
    deviations of a difference of two independent means (from the shipped seeds' spread), or, for a
    group of one seed, within float32 rounding (1e-6, relative to values above 1)."""
    columns = [c for c in recomputed.columns if c in shipped_rows.columns]
    values = [c for c in columns if pd.api.types.is_float_dtype(recomputed[c]) and c != seed]
    keys = [c for c in columns if c not in values and c != seed]
    if len(shipped_rows) != len(recomputed):
        raise ValueError(f"the recomputed cell has {len(recomputed)} rows, the shipped one {len(shipped_rows)}")
    if not recomputed[keys].astype(str).equals(shipped_rows[keys].astype(str)):
        raise ValueError("the recomputed cell's rows are not the shipped cell's rows (keys differ)")
    out = []
    for column in values:
        a = shipped_rows.groupby(keys, dropna=False)[column].agg(["mean", "sem", "size"])
        b = recomputed.groupby(keys, dropna=False)[column].mean()
        frame = pd.DataFrame({"column": column, "shipped": a["mean"], "recomputed": b,
                              "sem": a["sem"].fillna(0.0)})
        frame["difference"] = frame.recomputed - frame.shipped
        # a group of one seed has no spread: it must agree to float32 rounding
        frame["within"] = frame.difference.abs() <= spread * np.sqrt(2) * frame["sem"] + 1e-6 * np.maximum(
            1.0, frame.shipped.abs())
        out.append(frame.reset_index())
    return pd.concat(out, ignore_index=True)


def describe(folder=None, families=None) -> str | None:
    """How the shipped results were made, in one plain-text sentence for a chapter: the network sizes
    of ``families`` (default: every family the shipped cells use), command, compute time, machine,
    date and code fingerprint; None when nothing is shipped."""
    record = provenance(folder)
    if record is None:
        return None
    if families is None:
        used = [c["config"]["params"].get("family") for e in record["tables"].values() for c in e["cells"]]
        families = list(dict.fromkeys(f for f in used if f))
    sized = {}  # families with the same networks are named together
    for family in families:
        s = record["sizes"][family]
        info = family_info(family)
        unit, net = info.unit, info.networks
        text = (f"{net} of {s['depth']} blocks of {s['width']} {unit}, {s['source_steps']:,} source and "
                f"{s['steps']:,} target training steps")
        sized.setdefault(text, []).append(info.display)
    parts = [f"{' and '.join(names)} {text}" for text, names in sized.items()]
    seconds = compute_seconds(folder)
    took = "" if seconds is None else f" ({seconds / 60:.0f} minutes of computing for all the shipped sweeps)"
    machine = record["machine"]
    where = machine["gpu"] or f"{machine['processor']} with {machine['cpus']} CPU cores"
    codes = list(dict.fromkeys(e.get("code", record["code"]) for e in record["tables"].values()))
    code = f"code fingerprint {codes[0]}" if len(codes) == 1 else f"code fingerprints {', '.join(codes)}"
    return (f"{'; '.join(parts)}; made by {record['command']}{took} on {where} "
            f"({record['created'][:10]}, {code})")


def agreement_text(quick: Verdict, paper: Verdict) -> str:
    """Whether a claim's paper-scale verdict is the quick-mode one, in plain words."""
    if quick.verdict == paper.verdict:
        return f"the same verdict as in quick mode ({quick.verdict})"
    return f"a different verdict from quick mode's ({quick.verdict})"


def compute_seconds(folder=None) -> float | None:
    """The time all shipped cells took to compute, each distinct cell once (two sweeps can share a
    cell: both phase maps hold the identical-task cell); None when a cell's time is not recorded."""
    record = provenance(folder)
    if record is None:
        return None
    cells = {c["key"]: c.get("seconds") for e in record["tables"].values() for c in e["cells"]}
    return None if None in cells.values() else float(sum(cells.values()))


def parameters(name: str, folder=None) -> dict:
    """The experiment parameters of the shipped table ``name`` (its first cell's; the grid's knob
    takes other values in the other cells)."""
    record = provenance(folder)
    if record is None or name not in record["tables"]:
        raise ValueError(f"{name!r} is not shipped in {folder or results_dir()}")
    return dict(record["tables"][name]["cells"][0]["config"]["params"])
