"""Shared fixtures: the DADApy reference, run in its own environment."""
import json
import subprocess

import numpy as np
import pytest

from reference.environment import REFERENCE, reference_python


@pytest.fixture(scope="session")
def dadapy(tmp_path_factory):
    """``dadapy(x, y, labels, ks)`` -> DADApy's results per k (see tests/reference/dadapy_reference.py)."""
    python = reference_python()
    folder = tmp_path_factory.mktemp("dadapy")

    def run(x, y, labels, ks):
        src, dst = folder / "in.npz", folder / "out.json"
        np.savez(src, x=np.asarray(x), y=np.asarray(y), labels=np.asarray(labels), ks=np.asarray(ks))
        subprocess.run([str(python), str(REFERENCE / "dadapy_reference.py"), str(src), str(dst)],
                       check=True, capture_output=True)
        return {int(k): v for k, v in json.loads(dst.read_text()).items()}

    return run
