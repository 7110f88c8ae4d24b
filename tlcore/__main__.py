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
stderr and exit status 2, before any training; so does an output path that is one of the inputs, a
folder, or in a missing or read-only folder. Outputs are written whole or not at all
(:func:`tlcore.files.write_atomic`); Ctrl-C and SIGTERM end with one line and exit status 130 / 143.
"""
from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from .files import run_command, same_file


class InputError(Exception):
    """A problem with the user's files, reported as one line."""


# A plan that trains more network-steps than this is announced before it starts (the defaults of
# advise train about 25,000; of train-source 3,000).
_ANNOUNCE_NETWORK_STEPS = 5_000_000
# One training call of advise holds every (seed, protocol) network at once, with Adam's two moments
# and the gradients: 16 bytes a parameter. Beyond this many parameters (4 GiB) a plan is refused.
_MAX_CALL_PARAMETERS = 250_000_000


def _csv_header(p: Path) -> list[str]:
    import csv

    with open(p, newline="") as fh:
        return next(csv.reader(fh), [])


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
            header = _csv_header(p)
            frame = pd.read_csv(p)
        except Exception as exc:
            raise InputError(f"{path!r} is not a readable CSV file ({type(exc).__name__})") from None
        repeated = sorted({c for c in header if header.count(c) > 1})
        if repeated:  # pandas would rename the second one ('label.1') and keep it as a feature
            raise InputError(f"{path!r} has more than one column named {repeated[0]!r}: column names must be "
                             "unique (a second label column would be read as a feature)")
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


def _output(path: str, flag: str, inputs=()) -> Path:
    """An output path checked before any work (see :func:`tlcore.files.check_output`)."""
    from .files import OutputError, check_output

    try:
        return check_output(path, flag, inputs)
    except OutputError as exc:
        raise InputError(str(exc)) from None


def _write(path: Path, data: bytes, flag: str, fallback: str | None = None) -> None:
    """Write an output atomically; a failure (a full disk) leaves any earlier file as it was."""
    from .files import write_atomic

    try:
        write_atomic(path, data)
    except OSError as exc:
        if fallback is not None:
            print(fallback)  # nothing computed is lost
        kept = " (the earlier file is unchanged)" if path.exists() else ""
        shown = "; the advice is printed above" if fallback is not None else ""
        raise InputError(f"could not write {flag} {str(path)!r} ({exc.strerror or exc}){kept}{shown}") from None


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


def _mlp_parameters(in_dim: int, width: int, depth: int, n_classes: int) -> int:
    from .models import MLP

    return MLP._param_count({"in_dim": in_dim, "width": width, "depth": depth, "n_classes": n_classes})


def _check_size(width: int, depth: int, in_dim: int = 1, n_classes: int = 2) -> None:
    """Refuse a network that ``load_model`` would refuse to read back, before allocating it."""
    from .models import MAX_LOAD_PARAMETERS

    n = _mlp_parameters(in_dim, width, depth, n_classes)
    if n > MAX_LOAD_PARAMETERS:
        raise InputError(f"--width {width} --depth {depth} make a network of {n:,} parameters, more than the "
                         f"{MAX_LOAD_PARAMETERS:,} that load_model (and so advise) reads")


def _train_source(args) -> int:
    import io

    from .experiments import pretrain
    from .models import save_model
    from .validation import resolve_device

    for name in ("width", "depth", "steps"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} {getattr(args, name)} must be at least 1")
    if args.seed < 0:
        raise InputError(f"--seed {args.seed} must be non-negative")
    _check_size(args.width, args.depth)
    try:
        resolve_device(args.device)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if Path(args.out).suffix != ".pt":
        raise InputError(f"--out {args.out!r}: model files end in .pt")
    out = _output(args.out, "--out", [args.data])
    task = _task(args.data, args.label_column, args.standardise)
    _check_size(args.width, args.depth, task.in_dim, task.n_classes)
    training = dict(model="mlp", width=args.width, depth=args.depth, device=args.device)
    if args.steps > _ANNOUNCE_NETWORK_STEPS // 10:
        probe = min(args.steps, 64)
        start = time.perf_counter()
        pretrain(task, [args.seed], source_steps=probe, **training)
        rate = (time.perf_counter() - start) / probe
        print(f"train-source: {args.steps:,} steps will take about {_duration(rate * args.steps)} on this machine "
              f"({probe} steps took {rate * probe:.2f} s); Ctrl-C stops it", file=sys.stderr)
    models, accs = pretrain(task, [args.seed], source_steps=args.steps, **training)
    buf = io.BytesIO()
    save_model(models[0], buf)
    _write(out, buf.getvalue(), "--out")
    test = f", test accuracy {accs[0]:.3f}" if task.x_test.shape[0] else ""
    print(f"trained an MLP of {args.depth} blocks of width {args.width} on {task.n_train} examples "
          f"({task.n_classes} classes){test}; written {out}")
    return 0


def _duration(seconds: float) -> str:
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:,.0f} {unit}"
    return f"{seconds:.0f} s"


def _plan(args, task, sources: dict) -> tuple[int, int]:
    """``(networks, network-steps)`` that ``advise`` will train at most with these options; refuses a
    plan whose single training call would hold more weights than a machine's memory, before any."""
    from .transfer import plans_of

    n_plans = max(len(plans_of(args.protocols, m.n_blocks)) for m in sources.values())
    per_network = max(sum(p.numel() for p in m.parameters()) for m in sources.values())
    at_once = args.seeds * (1 if args.strategy == "similarity" else n_plans)
    if at_once * per_network > _MAX_CALL_PARAMETERS:
        raise InputError(f"--seeds {args.seeds} would train {at_once:,} networks of up to {per_network:,} parameters "
                         f"in one call ({at_once * per_network:,} parameters, about "
                         f"{16 * at_once * per_network / 2 ** 30:,.0f} GiB with Adam's state), more than the "
                         f"{_MAX_CALL_PARAMETERS:,} allowed: give fewer --seeds")
    tried = 1 if args.strategy == "similarity" else min(args.top_sources, len(sources)) * n_plans
    networks = args.seeds * (1 + tried + (1 if task.x_test.shape[0] else 0))
    if args.budget is not None:
        networks = min(networks, args.budget)
    return networks, networks * args.steps


def _advise(args) -> int:
    from .advisor import advise
    from .models import load_model, load_torch_source
    from .train import TimeLimitReached, time_limit
    from .validation import resolve_device

    for name in ("steps", "seeds", "top_sources"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} {getattr(args, name)} must be at least 1")
    if args.budget is not None and args.budget < 1:
        raise InputError(f"--budget {args.budget} must be at least 1 network (omit it for no limit)")
    if args.budget_seconds is not None and not (args.budget_seconds > 0 and np.isfinite(args.budget_seconds)):
        raise InputError(f"--budget-seconds {args.budget_seconds} must be a positive number")
    try:
        resolve_device(args.device)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    inputs = [args.target, *args.source]
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise InputError(f"--plot {args.plot!r}: the file name must end in .png, .pdf or .svg")
    json_out = _output(args.json, "--json", inputs) if args.json else None
    plot_out = _output(args.plot, "--plot", inputs) if args.plot else None
    if json_out is not None and plot_out is not None and same_file(json_out, plot_out):
        raise InputError(f"--json {args.json!r} and --plot {args.plot!r} name the same file")
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
            raise InputError(str(exc)) from None
    networks, network_steps = _plan(args, task, sources)
    if network_steps > _ANNOUNCE_NETWORK_STEPS:
        bound = (f"--budget-seconds {args.budget_seconds:g} bounds it" if args.budget_seconds is not None
                 else "Ctrl-C stops it; --budget-seconds bounds it")
        print(f"advise: up to {networks:,} networks of {args.steps:,} steps each ({network_steps:,} network-steps, "
              f"{network_steps / 25_000:,.0f} times the default settings' work); {bound}", file=sys.stderr)
    # advise checks the time budget between training calls; a single call that runs far past it
    # (huge --seeds or --steps) is stopped inside, at twice the budget (at least the budget + 10 s)
    limit = contextlib.nullcontext() if args.budget_seconds is None else \
        time_limit(args.budget_seconds + max(args.budget_seconds, 10.0))
    try:
        with limit:
            advice = advise(task, sources, top_sources=args.top_sources, seeds=range(args.seeds),
                            budget_networks=args.budget, budget_seconds=args.budget_seconds,
                            steps=args.steps, device=args.device, strategy=args.strategy,
                            protocols=args.protocols, progress=True)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    except TimeLimitReached as exc:
        raise InputError(f"--budget-seconds {args.budget_seconds:g} was overrun inside one training call ({exc}); "
                         f"with --seeds {args.seeds} and --steps {args.steps} one call needs longer: give fewer "
                         "seeds or steps, or a larger budget") from None
    print(advice)
    if json_out is not None:
        text = advice.to_json(indent=2)
        _write(json_out, (text + "\n").encode(), "--json", fallback=text)
        print(f"written {json_out}")
    if plot_out is not None:
        import matplotlib

        matplotlib.use("Agg")
        try:
            advice.plot(plot_out)
        except OSError as exc:
            raise InputError(f"could not write --plot {str(plot_out)!r} ({exc.strerror or exc}); the advice is "
                             "printed above") from None
        print(f"written {plot_out}")
    return 0


def _paper_results(args) -> int:
    from .paper import make_results
    from .validation import resolve_device

    if args.out is not None:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {args.out!r} is a file, not a folder")
        if not out.exists() and not out.parent.is_dir():
            raise InputError(f"--out {args.out!r}: folder {str(out.parent)!r} does not exist")
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
    return run_command(lambda: _command(args), "python -m tlcore")


def _command(args) -> int:
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
