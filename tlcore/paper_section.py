"""The "At paper scale" section every claim chapter ends with, computed once here.

A chapter names the shipped sweeps it reads, how its verdicts are judged from them and its own
quick-mode verdicts; :func:`paper_section` returns the shipped tables (None when not shipped), the
paper-scale verdicts and the texts the chapter glues: each verdict, its evidence, the agreement with
quick mode and the set-up sentence. Without shipped results every text says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import pandas as pd

from .claims import Verdict
from .paper import agreement_text, describe, shipped

__all__ = ["PaperSection", "paper_section", "NOT_SHIPPED"]

NOT_SHIPPED = "No paper-scale results are shipped with this copy: `make paper-results` makes them."


@dataclass
class PaperSection:
    """What a chapter's paper-scale section shows: tables (None if not shipped), verdicts and texts."""

    tables: dict | None
    verdicts: list = field(default_factory=list)
    texts: dict = field(default_factory=dict)

    @property
    def shipped(self) -> bool:
        return self.tables is not None


def paper_section(sweeps: Sequence[str], judge: Callable[[Mapping[str, pd.DataFrame]], Sequence[Verdict]],
                  quick: Sequence[Verdict], families: Sequence[str], names: Sequence[str] | None = None,
                  folder=None) -> PaperSection:
    """The paper-scale section of a chapter.

    ``judge`` maps the shipped tables (by sweep name) to verdicts in the order of ``quick`` (the
    chapter's quick-mode verdicts). ``names`` are the glue prefixes (default: each verdict's claim), so
    the texts are ``{name}_paper_verdict``, ``{name}_paper_evidence``, ``{name}_agreement`` and
    ``paper_setup``.
    """
    names = [v.claim for v in quick] if names is None else list(names)
    if len(names) != len(quick):
        raise ValueError(f"paper_section: {len(names)} names for {len(quick)} verdicts")
    tables = {name: shipped(name, folder) for name in sweeps}
    if any(t is None for t in tables.values()):
        texts = {f"{n}_{part}": "not available" for n in names for part in ("paper_verdict", "paper_evidence",
                                                                             "agreement")}
        texts["paper_setup"] = f"but {'its' if len(sweeps) == 1 else 'their'} results are not shipped with this copy"
        return PaperSection(None, [], texts)
    verdicts = list(judge(tables))
    if len(verdicts) != len(quick):
        raise ValueError(f"paper_section: the judge gave {len(verdicts)} verdicts for {len(quick)} quick ones")
    texts = {}
    for name, q, p in zip(names, quick, verdicts):
        texts.update({f"{name}_paper_verdict": p.verdict, f"{name}_paper_evidence": p.evidence,
                      f"{name}_agreement": agreement_text(q, p)})
    texts["paper_setup"] = describe(folder, families=list(families))
    return PaperSection(tables, verdicts, texts)
