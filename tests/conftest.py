"""Shared fixtures: the DADApy reference, run in its own environment."""
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).parent / "reference"


def _reference_python() -> Path:
    """The interpreter of the reference environment, made on first use (pip, about a minute)."""
    if os.environ.get("TLCORE_REFERENCE_PYTHON"):
        return Path(os.environ["TLCORE_REFERENCE_PYTHON"])
    env = ROOT / ".reference-env"
    python = env / "bin" / "python"
    stamp = env / "installed.txt"
    wanted = (REFERENCE / "requirements.txt").read_text()
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        print(f"\nmaking the DADApy reference environment in {env} ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(env)
        reqs = REFERENCE / "requirements.txt"
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-c", str(reqs), "-r", str(reqs)], check=True)
        stamp.write_text(wanted)
    return python


@pytest.fixture(scope="session")
def dadapy(tmp_path_factory):
    """``dadapy(x, y, labels, ks)`` -> DADApy's results per k (see tests/reference/dadapy_reference.py)."""
    python = _reference_python()
    folder = tmp_path_factory.mktemp("dadapy")

    def run(x, y, labels, ks):
        src, dst = folder / "in.npz", folder / "out.json"
        np.savez(src, x=np.asarray(x), y=np.asarray(y), labels=np.asarray(labels), ks=np.asarray(ks))
        subprocess.run([str(python), str(REFERENCE / "dadapy_reference.py"), str(src), str(dst)],
                       check=True, capture_output=True)
        return {int(k): v for k, v in json.loads(dst.read_text()).items()}

    return run
