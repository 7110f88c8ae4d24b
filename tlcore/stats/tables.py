"""The checked tables every chooser reads: one row per trained network, integer protocol keys.

A chooser needs its grouping columns, the protocol key, the replicate column and finite scores, and at
most one row per (group, protocol, replicate); :func:`validated` checks that once, with errors that
name the bad column or row.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

PROTOCOL = ["transfer_depth", "frozen_depth"]
SEED = "seed"
ProtocolKey = tuple[int, int]
Candidates = Callable[[int, int], bool] | Iterable[ProtocolKey] | None




def as_list(by) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def integer_column(df: pd.DataFrame, col: str, where: str) -> None:
    """Cast ``col`` to int64 in place, refusing values that are not whole numbers."""
    s = df[col]
    if s.isna().any():
        raise ValueError(f"{where}: column {col!r} has missing values")
    if pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s):
        df[col] = s.astype("int64")
        return
    if pd.api.types.is_float_dtype(s):
        v = s.to_numpy()
        if np.all(np.isfinite(v)) and np.all(v == np.round(v)):
            df[col] = v.astype("int64")
            return
    raise ValueError(f"{where}: column {col!r} must hold integers, got dtype {s.dtype}")


def validated(table, by, scores: Sequence[str], where: str) -> tuple[pd.DataFrame, list[str]]:
    """The columns a function needs, checked once: present, non-empty, integer keys, finite scores,
    at most one row per (group, protocol, seed)."""
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{where}: expected a pandas DataFrame, got {type(table).__name__}")
    by = as_list(by)
    clash = [c for c in by if c in PROTOCOL + [SEED]]
    if clash:
        raise ValueError(f"{where}: grouping column(s) {clash} are protocol/seed columns")
    need = list(dict.fromkeys(by + PROTOCOL + [SEED] + list(scores)))
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; present: {list(table.columns)}")
    if table.empty:
        raise ValueError(f"{where}: empty table")
    df = table[need].reset_index(drop=True)
    for col in PROTOCOL + [SEED]:
        integer_column(df, col, where)
    for col in dict.fromkeys(scores):
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            raise ValueError(f"{where}: score column {col!r} must be numeric, got dtype {df[col].dtype}")
        bad = int((~np.isfinite(df[col].to_numpy(dtype=float))).sum())
        if bad:
            raise ValueError(f"{where}: score column {col!r} has {bad} NaN/infinite value(s)")
    for col in by:
        if df[col].isna().any():
            raise ValueError(f"{where}: grouping column {col!r} has missing values")
    keys = by + PROTOCOL + [SEED]
    dup = df.duplicated(keys)
    if dup.any():
        i = df.index[dup.to_numpy()][0]
        raise ValueError(f"{where}: duplicate rows for {describe({k: df.at[i, k] for k in by})}, protocol "
                         f"({df.at[i, 'transfer_depth']}, {df.at[i, 'frozen_depth']}), seed {df.at[i, SEED]}")
    return df, by


def describe(key: Mapping) -> str:
    plain = {k: v.item() if isinstance(v, np.generic) else v for k, v in key.items()}
    return ", ".join(f"{k}={v!r}" for k, v in plain.items()) if key else "the whole table"


def groups(df: pd.DataFrame, by: list[str]) -> Iterator[tuple[dict, pd.DataFrame]]:
    """``(group key as a dict, rows)`` in sorted key order; one group when ``by`` is empty."""
    if not by:
        yield {}, df
        return
    for key, g in df.groupby(by, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, key)), g


def frame(rows: list[dict], by: list[str], df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Rows to a DataFrame with the grouping columns in their input dtype."""
    out = pd.DataFrame(rows, columns=by + list(columns))
    for k in by:
        out[k] = out[k].astype(df[k].dtype)
    return out


def protocol_pair(p, name: str) -> ProtocolKey:
    try:
        t, f = p
        return int(t), int(f)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (transfer_depth, frozen_depth) pair, got {p!r}") from None


def wide(g: pd.DataFrame, score: str) -> pd.DataFrame:
    """Seeds x protocols table of ``score``; columns ``(t, f)`` sorted so the first is the tie winner."""
    w = g.pivot(index=SEED, columns=PROTOCOL, values=score)
    w.columns = [(int(t), int(f)) for t, f in w.columns]
    return w.sort_index().reindex(columns=sorted(w.columns))


def complete(w: pd.DataFrame, key: Mapping, where: str) -> np.ndarray:
    """The seeds x protocols matrix, refusing a protocol that lacks some seeds (pairing would break)."""
    gaps = w.columns[w.isna().any().to_numpy()]
    if len(gaps):
        p = gaps[0]
        lack = [int(s) for s in w.index[w[p].isna()]]
        raise ValueError(f"{where}: protocol {p} lacks seed(s) {lack} in {describe(key)}; every protocol "
                         f"needs every seed of its group")
    return w.to_numpy(dtype=float)


def check_count(where: str, name: str, value, low: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{where}: {name} must be an integer >= {low}, got {value!r}")


def complete_groups(df: pd.DataFrame, by: list[str], score: str, candidates, where: str):
    """Per group of a validated table: the key, the seeds x protocols table of ``score`` and its
    complete array (every protocol has every seed)."""
    df = candidate_rows(df, candidates, where)
    for key, g in groups(df, by):
        w = wide(g, score)
        yield key, w, complete(w, key, where)


def candidate_rows(df: pd.DataFrame, candidates: Candidates, where: str) -> pd.DataFrame:
    """Rows of the protocols allowed by ``candidates``: ``None`` (all), a predicate ``(t, f) -> bool``,
    or a list of ``(t, f)`` pairs (each must occur somewhere in the table)."""
    if candidates is None:
        return df
    pairs = list(zip(df.transfer_depth, df.frozen_depth))
    if callable(candidates):
        keep = np.array([bool(candidates(t, f)) for t, f in pairs], dtype=bool)
    else:
        wanted = {protocol_pair(p, "candidates") for p in candidates}
        absent = sorted(wanted - set(pairs))
        if absent:
            raise ValueError(f"{where}: candidate protocol(s) {absent} absent from the table")
        keep = np.array([p in wanted for p in pairs], dtype=bool)
    if not keep.any():
        raise ValueError(f"{where}: no protocol of the table is a candidate")
    return df[keep]


