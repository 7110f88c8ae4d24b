"""What the advisor found, as a record a user reads, plots or stores (JSON schema ``format_version`` 1)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .stats import mean_se_text, significant

__all__ = ["Advice", "FORMAT_VERSION"]


FORMAT_VERSION = 1


def _plain_json(value):
    """JSON-safe values: NaN and inf become null (strict parsers reject NaN), numpy scalars numbers."""
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_json(v) for v in value]
    if value is pd.NA or value is None:
        return None
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@dataclass
class Advice:
    """What :func:`advise` found: ranked sources, every protocol tried, and the recommendation.

    ``protocols`` has one row per (source, protocol) with the mean and standard error over seeds
    of the validation accuracy; scratch training appears once, with ``source`` empty.
    ``recommendation`` holds the chosen source and protocol, its validation accuracy, and its
    paired margins over scratch and over the standard recipe ``(L, L)`` with their standard errors.
    """

    sources: pd.DataFrame
    protocols: pd.DataFrame
    recommendation: dict
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """The advice as plain data (schema ``format_version`` 1, documented in the README)."""
        return _plain_json({"format_version": FORMAT_VERSION, "recommendation": self.recommendation,
                            "sources": self.sources.to_dict(orient="records"),
                            "protocols": self.protocols.to_dict(orient="records"),
                            "notes": list(self.notes)})

    def plot(self, path=None):
        """A figure of every protocol tried (validation accuracy per source); saved to ``path`` if given."""
        from .figures import plot_protocols

        r = self.recommendation
        title = (f"recommended: {r['protocol']}" + (f" from {r['source']!r}" if r["source"] else "")
                 + f" ({r.get('strategy', 'search')})")
        fig = plot_protocols(self.protocols, title=title)
        if path is not None:  # drawn in memory, then written whole: a failure leaves any earlier file
            import io

            from .files import write_atomic

            buf = io.BytesIO()
            fig.savefig(buf, format=Path(path).suffix.lstrip(".").lower() or "png", dpi=110, bbox_inches="tight")
            write_atomic(path, buf.getvalue())
        return fig

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, **kw)

    def summary(self) -> str:
        """The recommendation in two or three sentences, margins with their standard errors."""
        r = self.recommendation
        if not r["source"] and r.get("strategy") != "similarity" and not (self.protocols.source != "").any():
            what = ("train from scratch: no source was tried (see the notes), so this is no verdict on the "
                    "sources")
        elif not r["source"]:
            what = "train from scratch (no source helps on the validation split)"
        elif r["transfer_depth"] is not None:
            what = (f"transfer from {r['source']!r} with protocol ({r['transfer_depth']}, {r['frozen_depth']}), "
                    f"{r['protocol']}")
        else:
            what = f"transfer every block of {r['source']!r} with the plan {r['protocol']}"
        lines = [f"Recommendation: {what}; validation accuracy {r['val_acc']:.3f} "
                 f"+- {r['val_sem']:.3f} (SE over {r['n_seeds']} seeds)."]
        for label, key in (("scratch", "scratch"), ("the standard recipe (L, L)", "standard")):
            margin, sem = r.get(f"margin_over_{key}"), r.get(f"margin_over_{key}_sem")
            if margin is None or not np.isfinite(margin):
                continue
            verdict = "" if significant(margin, sem, r["n_seeds"]) else " (within noise)"
            lines.append(f"  {mean_se_text(margin, sem)} over {label}{verdict}")
        if "test_acc" in r:
            lines.append(f"  test accuracy after refitting on all the training data: {r['test_acc']:.3f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        table = self.protocols.copy()
        for column in ("val_acc", "val_sem"):
            table[column] = table[column].map(lambda v: f"{v:.3f}")
        lines = [self.summary(), "", "Candidate sources (best first, similarity to scratch networks):",
                 self.sources.round(3).to_string(index=False), "",
                 "Protocols tried (validation accuracy, mean and SE over seeds):",
                 table.to_string(index=False)]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)
