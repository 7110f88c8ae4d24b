"""Command line: ``python -m tlcore advise --target DATA --source MODEL [--source MODEL ...]``.

``DATA`` is an ``.npz`` file with arrays ``x`` (examples x features) and ``y`` (integer labels), and
optionally ``x_test``, ``y_test``; or a ``.csv`` file of numeric feature columns and a label column
(``--label-column``, default ``label``, else the last column). ``MODEL`` is a file written by
``tlcore.save_model``. Every bad input ends with one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


class InputError(Exception):
    """A problem with the user's files, reported as one line."""


def load_data(path: str, label_column: str | None = None) -> dict:
    """``{"x", "y", "x_test"?, "y_test"?}`` from an .npz or .csv file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no data file at {path!r}")
    if p.suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:
            raise InputError(f"{path!r} is not a readable .npz file ({type(exc).__name__})") from None
        missing = [k for k in ("x", "y") if k not in arrays]
        if missing:
            raise InputError(f"{path!r} lacks array(s) {missing}; it holds {sorted(arrays)} "
                             "(expected x, y and optionally x_test, y_test)")
        if ("x_test" in arrays) != ("y_test" in arrays):
            raise InputError(f"{path!r} must hold both x_test and y_test, or neither")
        return arrays
    if p.suffix == ".csv":
        import pandas as pd

        try:
            frame = pd.read_csv(p)
        except Exception as exc:
            raise InputError(f"{path!r} is not a readable CSV file ({type(exc).__name__})") from None
        if frame.empty:
            raise InputError(f"{path!r} holds no rows: the target data set is empty")
        column = label_column or ("label" if "label" in frame.columns else frame.columns[-1])
        if column not in frame.columns:
            raise InputError(f"{path!r} has no column {column!r}; columns are {list(frame.columns)}")
        features = frame.drop(columns=[column])
        if not all(np.issubdtype(t, np.number) for t in features.dtypes):
            bad = [c for c, t in features.dtypes.items() if not np.issubdtype(t, np.number)]
            raise InputError(f"feature column(s) {bad} of {path!r} are not numeric")
        return {"x": features.to_numpy(dtype=float), "y": frame[column].to_numpy()}
    raise InputError(f"{path!r}: expected a .npz or .csv file")


def _advise(args) -> int:
    from .advisor import advise, target_task
    from .models import load_model

    data = load_data(args.target, args.label_column)
    try:
        task, _ = target_task(data["x"], data["y"], data.get("x_test"), data.get("y_test"), Path(args.target).stem)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    sources = {}
    for path in args.source:
        try:
            sources[Path(path).stem] = load_model(path)
        except (FileNotFoundError, ValueError) as exc:
            raise InputError(str(exc).strip("'\"")) from None
    budget_networks = int(args.budget) if args.budget else None
    try:
        advice = advise(task, sources, top_sources=args.top_sources, seeds=range(args.seeds),
                        budget_networks=budget_networks, budget_seconds=args.budget_seconds,
                        steps=args.steps, device=args.device)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    print(advice)
    if args.json:
        Path(args.json).write_text(advice.to_json(indent=2))
        print(f"written {args.json}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlcore", description="tlcore command line")
    sub = parser.add_subparsers(dest="command", required=True)
    adv = sub.add_parser("advise", help="which source, how deep, frozen or fine-tuned?")
    adv.add_argument("--target", required=True, help=".npz (x, y[, x_test, y_test]) or .csv")
    adv.add_argument("--source", required=True, action="append", help="a model saved by tlcore (repeatable)")
    adv.add_argument("--label-column", default=None)
    adv.add_argument("--json", help="also write the advice as JSON to this file")
    adv.add_argument("--budget", type=int, default=None, help="at most this many networks trained")
    adv.add_argument("--budget-seconds", type=float, default=None, help="stop trying sources after this")
    adv.add_argument("--top-sources", type=int, default=2)
    adv.add_argument("--seeds", type=int, default=3)
    adv.add_argument("--steps", type=int, default=300)
    adv.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    try:
        return _advise(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
