"""What a claim's computation returns, and the one mapping from "how much holds" to a verdict word."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Verdict", "VERDICT_WORDS", "claim_word", "verdict_agreement", "verdict_across"]

VERDICT_WORDS = ("reproduced", "partly", "not reproduced")


def claim_word(holding: int, of: int) -> str:
    """``"reproduced"`` when every one of the ``of`` parts of a claim's test holds, ``"not reproduced"``
    when none does, ``"partly"`` otherwise: the only place where results become verdict words."""
    if not 0 <= holding <= of or of < 1:
        raise ValueError(f"claim_word: {holding} of {of} parts is not a count of parts")
    return VERDICT_WORDS[0] if holding == of else VERDICT_WORDS[2] if holding == 0 else VERDICT_WORDS[1]


@dataclass
class Verdict:
    """A claim's verdict and the numbers a reader needs to judge it."""

    claim: str
    verdict: str
    evidence: str
    numbers: dict = field(default_factory=dict)
    key: str = ""  # the one number the verdict rests on, in a few words (the introduction's table)


def verdict_agreement(quick: list[Verdict], paper: list[Verdict]) -> pd.DataFrame:
    """Claim by claim, the quick-mode and paper-scale verdicts side by side and whether they agree."""
    by_claim = {v.claim: v for v in paper}
    rows = [{"claim": v.claim, "quick": v.verdict, "paper": by_claim[v.claim].verdict,
             "agree": v.verdict == by_claim[v.claim].verdict} for v in quick if v.claim in by_claim]
    return pd.DataFrame(rows, columns=["claim", "quick", "paper", "agree"])


def verdict_across(claim: str, verdicts: dict, labels: dict | None = None) -> Verdict:
    """One verdict of ``claim`` from several settings (task families, benchmarks): reproduced where all
    are, not reproduced where none is, partly otherwise, saying where each verdict holds (``labels``:
    short names of the settings for the key number)."""
    kinds = {v.verdict for v in verdicts.values()}
    verdict = kinds.pop() if len(kinds) == 1 else "partly"
    text = "; ".join(f"{v.verdict} on {where} ({v.evidence})" for where, v in verdicts.items())
    labels = labels or {}
    key = "; ".join(f"{labels[where]}: {v.key}" if where in labels else f"{v.key} on {where}"
                    for where, v in verdicts.items())
    return Verdict(claim, verdict, text, {where: v.numbers for where, v in verdicts.items()}, key)
