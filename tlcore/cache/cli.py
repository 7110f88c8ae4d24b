"""``python -m tlcore cache {list,verify,prune} DIR``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


from .common import _KEY, _reason
from .store import ResultsCache


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of days >= 0, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """``python -m tlcore cache {list,verify,prune} DIR``; exit 0, 1 (verify found problems) or 2."""
    parser = argparse.ArgumentParser(prog="python -m tlcore cache",
                                     description="Inspect and clean a tlcore results cache folder.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="one line per entry: key, rows, bytes, created, status, config"
                   ).add_argument("folder")
    sub.add_parser("verify", help="check every entry; exit 1 when some are bad").add_argument("folder")
    prune = sub.add_parser("prune", help="remove bad entries and left-over files")
    prune.add_argument("folder")
    prune.add_argument("--older-than", type=_days, metavar="DAYS",
                       help="also remove good entries created more than DAYS days ago")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its one-line usage error
        return exc.code if isinstance(exc.code, int) else 2
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"tlcore cache: error: no cache folder at {str(folder)!r}", file=sys.stderr)
        return 2
    try:
        caches = _caches(folder)
        if args.command == "list":
            for cache in caches:
                prefix = "" if cache.folder == folder else f"{cache.folder.name}/"
                for e in cache.entries():
                    print("\t".join([prefix + e["key"]] + [str(e[k]) for k in ("rows", "bytes", "created", "status",
                                                                                "config")]))
            return 0
        if args.command == "verify":
            problems = [problem for cache in caches for problem in cache.verify()]
            for path, reason in problems:
                print(f"{path}: {reason}")
            print(f"{len(problems)} problem(s) in {folder}")
            return 1 if problems else 0
        removed = [path for cache in caches for path in cache.prune(older_than_days=args.older_than)]
        for path in removed:
            print(f"removed {path}")
        print(f"removed {len(removed)} file(s) from {folder}")
        return 0
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"tlcore cache: error:{where} ({_reason(exc)})", file=sys.stderr)
        return 2


def _caches(folder: Path) -> list[ResultsCache]:
    """The caches in ``folder``: itself, and the experiment folders ``tlcore.sweep.run`` makes in the
    ``cache_dir`` it is given (``cache_dir/depth``, ...), so either folder may be named."""
    subs = []
    for path in sorted(folder.iterdir()):
        if path.is_dir() and not path.is_symlink() and _KEY.match(path.name):
            cache = ResultsCache(path)
            keys, temps = cache._scan()
            if keys or temps or cache._aside():
                subs.append(cache)
    own = ResultsCache(folder)
    keys, temps = own._scan()
    return ([own] if keys or temps or own._aside() or not subs else []) + subs
