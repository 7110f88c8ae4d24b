"""The DADApy reference environment (NumPy 1.x), made on first use; shared by the tests and benchmarks.

    python tests/reference/environment.py     # prints the interpreter of the environment
"""
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(__file__).parent


def reference_python() -> Path:
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



if __name__ == "__main__":
    print(reference_python())
