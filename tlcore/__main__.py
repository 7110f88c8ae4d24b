"""Command line: ``python -m tlcore advise ...`` and ``python -m tlcore cache ...``.

``advise --target DATA --source MODEL [--source MODEL ...]``: ``DATA`` is an ``.npz`` file with
arrays ``x`` (examples x features) and ``y`` (integer labels), and optionally ``x_test``, ``y_test``;
or a ``.csv`` file of numeric feature columns and a label column (``label``, or the one named by
``--label-column``; never guessed). ``MODEL`` is a file written by ``tlcore.save_model``, or
``FILE.py:FACTORY`` (a function returning a torch module, weights from ``--weights``; images ``x`` of
shape ``(N, C, H, W)``; see :func:`tlcore.models.load_torch_source`).
``train-source --data DATA --out MODEL``: train a source network on your own labelled data and save
it for ``advise``. ``cache list|verify|prune DIR``: inspect and clean a sweep cache. Features are
standardised by default (``--no-standardise`` keeps them raw). Every bad input ends with one line on
stderr and exit status 2, before any training.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
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
        column = label_column or "label"
        if column not in frame.columns:
            hint = "" if label_column else "; name the label column with --label-column"
            raise InputError(f"{path!r} has no label column {column!r}{hint} (columns: {list(frame.columns)[:8]}"
                             f"{' ...' if len(frame.columns) > 8 else ''})")
        features = frame.drop(columns=[column])
        bad = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
        if bad:
            raise InputError(f"feature column(s) {bad} of {path!r} are not numeric")
        return {"x": features.to_numpy(dtype=float), "y": frame[column].to_numpy()}
    raise InputError(f"{path!r}: expected a .npz or .csv file")


def _writable(path: str, flag: str = "--json") -> None:
    """Refuse an output path that cannot be written, before any work is done."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{flag} {path!r} is a folder, not a file")
    if not p.parent.is_dir():
        raise InputError(f"{flag} {path!r}: folder {str(p.parent)!r} does not exist")
    if not os.access(p.parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InputError(f"{flag} {path!r} is not writable")


def _is_factory(spec: str) -> bool:
    """``FILE.py:FACTORY``: a function in a Python file that returns a torch module."""
    return spec.endswith(".py") or spec.rpartition(":")[0].endswith(".py")


def _task(path: str, label_column: str | None, standardise: bool):
    from .advisor import target_task

    data = load_data(path, label_column)
    try:
        return target_task(data["x"], data["y"], data.get("x_test"), data.get("y_test"), Path(path).stem,
                           standardise=standardise)[0]
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _train_source(args) -> int:
    from .experiments import pretrain
    from .models import save_model
    from .validation import resolve_device

    for name in ("width", "depth", "steps"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} {getattr(args, name)} must be at least 1")
    if args.seed < 0:
        raise InputError(f"--seed {args.seed} must be non-negative")
    try:
        resolve_device(args.device)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    out = Path(args.out)
    if out.suffix != ".pt":
        raise InputError(f"--out {args.out!r}: model files end in .pt")
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        raise InputError(f"--out {args.out!r}: folder {str(out.parent)!r} does not exist or is not writable")
    task = _task(args.data, args.label_column, args.standardise)
    models, accs = pretrain(task, [args.seed], model="mlp", width=args.width, depth=args.depth,
                            source_steps=args.steps, device=args.device)
    save_model(models[0], out)
    test = f", test accuracy {accs[0]:.3f}" if task.x_test.shape[0] else ""
    print(f"trained an MLP of {args.depth} blocks of width {args.width} on {task.n_train} examples "
          f"({task.n_classes} classes){test}; written {out}")
    return 0


def _advise(args) -> int:
    from .advisor import advise
    from .models import load_model, load_torch_source
    from .validation import resolve_device

    for name in ("steps", "seeds", "top_sources"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} {getattr(args, name)} must be at least 1")
    if args.budget is not None and args.budget < 1:
        raise InputError(f"--budget {args.budget} must be at least 1 network (omit it for no limit)")
    if args.budget_seconds is not None and not args.budget_seconds > 0:
        raise InputError(f"--budget-seconds {args.budget_seconds} must be positive")
    try:
        resolve_device(args.device)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.json:
        _writable(args.json)
    if args.plot:
        _writable(args.plot, "--plot")
        if Path(args.plot).suffix.lower() not in (".png", ".pdf", ".svg"):
            raise InputError(f"--plot {args.plot!r}: the file name must end in .png, .pdf or .svg")
    stems = [Path(p).stem for p in args.source]
    repeated = sorted({s for s in stems if stems.count(s) > 1})
    if repeated:
        raise InputError(f"two sources share the name {repeated[0]!r} (sources are named by file name); "
                         "rename one of the files")
    factories = [spec for spec in args.source if _is_factory(spec)]
    if args.weights and len(args.weights) != len(factories):
        raise InputError(f"{len(args.weights)} --weights file(s) for {len(factories)} FILE.py:FACTORY source(s); "
                         "give one per factory source, in the same order, or none")
    weights = dict(zip(factories, args.weights or [None] * len(factories)))
    task = _task(args.target, args.label_column, args.standardise)
    sources = {}
    for path in args.source:
        try:
            if path in weights:
                sources[Path(path).stem] = load_torch_source(path, weights[path], tuple(task.x_train.shape[1:]))
            else:
                sources[Path(path).stem] = load_model(path)
        except (FileNotFoundError, ValueError) as exc:
            raise InputError(str(exc) if path in weights else str(exc).strip("'\"")) from None
    try:
        advice = advise(task, sources, top_sources=args.top_sources, seeds=range(args.seeds),
                        budget_networks=args.budget, budget_seconds=args.budget_seconds,
                        steps=args.steps, device=args.device, strategy=args.strategy, protocols=args.protocols,
                        progress=True)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    print(advice)
    if args.json:
        try:
            Path(args.json).write_text(advice.to_json(indent=2))
        except OSError as exc:
            print(advice.to_json(indent=2))  # nothing computed is lost
            raise InputError(f"could not write --json {args.json!r} ({exc.strerror}); the advice is printed above")
        print(f"written {args.json}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        try:
            advice.plot(args.plot)
        except OSError as exc:
            raise InputError(f"could not write --plot {args.plot!r} ({exc.strerror}); the advice is printed above")
        print(f"written {args.plot}")
    return 0


def _paper_results(args) -> int:
    from .paper import make_results
    from .validation import resolve_device

    try:
        resolve_device(args.device)
        start = time.perf_counter()
        make_results(args.out, args.only, device=args.device, command="python -m tlcore " + shlex.join(args.argv))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    print(f"paper-scale results written in {time.perf_counter() - start:.0f} s")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlcore", description="tlcore command line")
    sub = parser.add_subparsers(dest="command", required=True)
    # options that every command reading user data takes
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--label-column", default=None, help="the CSV's label column (default: 'label')")
    common.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    common.add_argument("--no-standardise", dest="standardise", action="store_false",
                        help="keep the features as they are (default: mean 0, variance 1 per feature)")
    adv = sub.add_parser("advise", parents=[common], help="which source, how deep, frozen or fine-tuned?")
    adv.add_argument("--target", required=True, help=".npz (x, y[, x_test, y_test]) or .csv")
    adv.add_argument("--source", required=True, action="append",
                     help="a model saved by tlcore, or FILE.py:FACTORY, a function returning a torch module "
                          "(an nn.Sequential or a torchvision ResNet) (repeatable)")
    adv.add_argument("--weights", action="append", default=None,
                     help="a state_dict file for a FILE.py:FACTORY source (read with weights_only=True; "
                          "one per factory source, in order)")
    adv.add_argument("--json", help="also write the advice as JSON to this file (checked before training)")
    adv.add_argument("--plot", help="also draw every protocol tried (validation accuracy per source) to this "
                                    ".png, .pdf or .svg file (checked before training)")
    adv.add_argument("--budget", type=int, default=None, help="at most this many networks trained")
    adv.add_argument("--budget-seconds", type=float, default=None,
                     help="stop trying further sources after this many seconds")
    adv.add_argument("--top-sources", type=int, default=2, help="how many of the best-ranked sources to search")
    adv.add_argument("--seeds", type=int, default=3, help="networks per protocol (the spread of the estimate)")
    adv.add_argument("--steps", type=int, default=300, help="training steps of each target network")
    adv.add_argument("--protocols", choices=["prefix", "surgical", "all"], default="prefix",
                     help="what the search tries: prefix (the paper's (l, f) protocols), surgical (every block "
                          "transferred, each trained or frozen) or all")
    adv.add_argument("--strategy", choices=["search", "similarity"], default="search",
                     help="search: train every protocol and choose on a validation split; similarity: predict "
                          "the protocol from the best source's similarity profile and train only that one")
    src = sub.add_parser("train-source", parents=[common], help="train and save a source network on your own data")
    src.add_argument("--data", required=True, help=".npz (x, y[, x_test, y_test]) or .csv with a label column")
    src.add_argument("--out", required=True, help="the model file to write (.pt)")
    src.add_argument("--width", type=int, default=64, help="units per block")
    src.add_argument("--depth", type=int, default=4, help="number of blocks")
    src.add_argument("--steps", type=int, default=3000, help="training steps (Adam, batch 128)")
    src.add_argument("--seed", type=int, default=0, help="initialisation and data-order seed")
    paper = sub.add_parser("paper-results", help="run the claim sweeps at paper sizes and write the shipped "
                                                 "tables with their provenance (resumes from the sweep cache)")
    paper.add_argument("--out", default=None, help="the folder to write (default: results/paper in the repository)")
    paper.add_argument("--only", action="append", default=None, metavar="NAME",
                       help="one sweep of tlcore.claims.CLAIM_SWEEPS (repeatable; default: all)")
    paper.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    cache = sub.add_parser("cache", help="list, verify or prune a sweep cache")
    cache.add_argument("args", nargs=argparse.REMAINDER, help="list DIR | verify DIR | prune DIR [--older-than DAYS]")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.command == "cache":
        from .cache import main as cache_main

        return cache_main(args.args)
    try:
        if args.command == "paper-results":
            return _paper_results(args)
        return _advise(args) if args.command == "advise" else _train_source(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
