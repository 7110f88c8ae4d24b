"""Transfer protocols: how many source blocks to copy, and how many of those to freeze.

A protocol is two integers, ``(transfer_depth, frozen_depth)`` with
``0 <= frozen_depth <= transfer_depth <= n_blocks``. It covers every recipe in the paper:

=====================  =========================
scratch                ``(0, 0)``
linear probe           ``(L, L)`` (standard recipe: retrain only the readout)
full fine-tuning       ``(L, 0)``
incremental defrosting ``(L, f)``
first layers only      ``(l, l)`` frozen, ``(l, 0)`` fine-tuned
=====================  =========================

Beyond the paper, a :class:`BlockPlan` says for each block separately whether it is re-initialised
(``R``), transferred and trained (``T``) or transferred and frozen (``F``): "train only the first
blocks" (``TTF``) or "train only block 2" (``FTF``) are plans that no prefix protocol can express.
A prefix protocol ``(t, f)`` is the plan ``F * f + T * (t - f) + R * (L - t)``, and
:func:`initialise_target` gives the same network for both.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from .models import BlockModel, build_like
from .validation import check_int

__all__ = ["Protocol", "BlockPlan", "as_plan", "initialise_target", "all_protocols", "candidate_protocols",
           "surgical_plans", "transferred_plans", "PLAN_SETS", "plans_of", "PROTOCOL_FAMILIES", "family_of"]


@dataclass(frozen=True, order=True)
class Protocol:
    """Copy the first ``transfer_depth`` blocks of the source; freeze the first ``frozen_depth``."""

    transfer_depth: int
    frozen_depth: int = 0

    def __post_init__(self):
        check_int("transfer_depth", self.transfer_depth, low=0)
        check_int("frozen_depth", self.frozen_depth, low=0)
        if self.frozen_depth > self.transfer_depth:
            raise ValueError(f"impossible protocol: frozen_depth={self.frozen_depth} > "
                             f"transfer_depth={self.transfer_depth} (only transferred blocks can be frozen)")

    def check(self, n_blocks: int) -> "Protocol":
        """Raise unless this protocol fits a network of ``n_blocks`` blocks."""
        if self.transfer_depth > n_blocks:
            raise ValueError(f"impossible protocol: transfer_depth={self.transfer_depth} > "
                             f"n_blocks={n_blocks}")
        return self

    @property
    def name(self) -> str:
        t, f = self.transfer_depth, self.frozen_depth
        if t == 0:
            return "scratch"
        return f"transfer {t}, freeze {f}" if f else f"transfer {t}, fine-tune"

    # Named recipes ------------------------------------------------------------------
    @classmethod
    def scratch(cls) -> "Protocol":
        return cls(0, 0)

    @classmethod
    def linear_probe(cls, n_blocks: int) -> "Protocol":
        return cls(n_blocks, n_blocks)

    @classmethod
    def fine_tune(cls, n_blocks: int) -> "Protocol":
        return cls(n_blocks, 0)

    @classmethod
    def defrost(cls, n_blocks: int, n_defrosted: int) -> "Protocol":
        """Transfer everything and let the last ``n_defrosted`` blocks train (incremental defrosting)."""
        check_int("n_defrosted", n_defrosted, low=0, high=n_blocks)
        return cls(n_blocks, n_blocks - n_defrosted)


ACTIONS = {"R": "re-initialise", "T": "transfer and train", "F": "transfer and freeze"}


@dataclass(frozen=True, order=True)
class BlockPlan:
    """Per block, from the input: ``"R"`` re-initialise, ``"T"`` transfer and train, ``"F"`` transfer and freeze.

    ``code`` is one letter per block, e.g. ``"TFF"`` (train the first block, keep the others
    frozen). The readout is always new and trained.
    """

    code: str

    def __post_init__(self):
        if not isinstance(self.code, str) or not self.code:
            raise ValueError(f"a block plan is a non-empty string of R/T/F, got {self.code!r}")
        bad = sorted(set(self.code) - set(ACTIONS))
        if bad:
            raise ValueError(f"block plan {self.code!r}: unknown action(s) {bad}; expected R (re-initialise), "
                             "T (transfer and train) or F (transfer and freeze)")

    def check(self, n_blocks: int) -> "BlockPlan":
        """Raise unless the plan has one action per block of a network of ``n_blocks`` blocks."""
        if len(self.code) != n_blocks:
            raise ValueError(f"block plan {self.code!r} has {len(self.code)} actions for a network of "
                             f"{n_blocks} blocks")
        return self

    @classmethod
    def from_protocol(cls, protocol: "Protocol | tuple", n_blocks: int) -> "BlockPlan":
        """The plan of a prefix protocol ``(t, f)``: ``F * f + T * (t - f) + R * (n_blocks - t)``."""
        p = protocol if isinstance(protocol, Protocol) else Protocol(*protocol)
        p.check(n_blocks)
        return cls("F" * p.frozen_depth + "T" * (p.transfer_depth - p.frozen_depth) + "R" * (n_blocks - p.transfer_depth))

    @property
    def prefix(self) -> "Protocol | None":
        """The prefix protocol this plan is, or None when no ``(t, f)`` expresses it."""
        f = len(self.code) - len(self.code.lstrip("F"))
        t = f + len(self.code[f:]) - len(self.code[f:].lstrip("T"))
        return Protocol(t, f) if set(self.code[t:]) <= {"R"} else None

    @property
    def name(self) -> str:
        """The prefix protocol's name when there is one, else which blocks train, freeze or restart."""
        p = self.prefix
        if p is not None:
            return p.name
        words = {"T": "train", "F": "freeze", "R": "re-initialise"}
        parts = [f"{words[a]} {', '.join(str(i + 1) for i, b in enumerate(self.code) if b == a)}"
                 for a in "TFR" if a in self.code]
        return f"surgical {self.code}: " + "; ".join(parts)


def as_plan(protocol, n_blocks: int) -> BlockPlan:
    """Any protocol (a :class:`Protocol`, a ``(t, f)`` pair, a :class:`BlockPlan` or its code) as a checked plan."""
    if isinstance(protocol, BlockPlan):
        return protocol.check(n_blocks)
    if isinstance(protocol, str):
        return BlockPlan(protocol).check(n_blocks)
    return BlockPlan.from_protocol(protocol, n_blocks)


def surgical_plans(n_blocks: int) -> list[BlockPlan]:
    """Surgical fine-tuning (Lee et al. 2023): train only the first ``k`` blocks and freeze the rest
    (``k = 1 .. L-1``), or train only block ``i``; everything transferred, the readout retrained."""
    first = {BlockPlan("T" * k + "F" * (n_blocks - k)) for k in range(1, n_blocks)}
    single = {BlockPlan("F" * i + "T" + "F" * (n_blocks - i - 1)) for i in range(n_blocks)}
    return sorted(first | single)


def transferred_plans(n_blocks: int) -> list[BlockPlan]:
    """Every plan that transfers every block and trains or freezes each one, ``{T, F}^L`` (it holds
    :func:`surgical_plans`, full fine-tuning ``T^L`` and the standard recipe ``F^L``)."""
    import itertools

    return sorted(BlockPlan("".join(c)) for c in itertools.product("TF", repeat=n_blocks))


def plans_of(kind: str, n_blocks: int) -> list[BlockPlan]:
    """The plans of a kind of search (a key of ``PLAN_SETS``), scratch excluded."""
    if kind not in PLAN_SETS:
        raise ValueError(f"unknown protocol set {kind!r}; expected one of {list(PLAN_SETS)}")
    return sorted(set(PLAN_SETS[kind](n_blocks)) - {BlockPlan("R" * n_blocks)})


def all_protocols(n_blocks: int, frozen: bool = True, fine_tuned: bool = True) -> list[Protocol]:
    """``(l, l)`` and/or ``(l, 0)`` for every ``l`` in ``0..n_blocks``, scratch once, sorted."""
    out = set()
    for depth in range(n_blocks + 1):
        if frozen:
            out.add(Protocol(depth, depth))
        if fine_tuned:
            out.add(Protocol(depth, 0))
    return sorted(out)


def candidate_protocols(n_blocks: int) -> list[Protocol]:
    """Every protocol of the paper's families: ``(l, 0)``, ``(l, l)`` for all ``l`` and defrosting ``(L, f)``."""
    return sorted(set(all_protocols(n_blocks)) | {Protocol.defrost(n_blocks, d) for d in range(n_blocks + 1)})


# The kinds of search the advisor offers: the paper's prefix protocols, the plans that transfer every
# block and train or freeze each, or both.
PLAN_SETS = {
    "prefix": lambda L: [BlockPlan.from_protocol(p, L) for p in candidate_protocols(L)],
    "surgical": lambda L: transferred_plans(L),
    "all": lambda L: sorted({BlockPlan.from_protocol(p, L) for p in candidate_protocols(L)} | set(transferred_plans(L))),
}


# The paper's protocol families, as predicates on (transfer_depth, frozen_depth, L). Scratch (0, 0)
# is the shallowest member of the fine-tuned and frozen families; (L, L) and (L, 0) belong to two.
PROTOCOL_FAMILIES = {
    "fine-tuned (l, 0)": lambda t, f, L: f == 0,
    "frozen (l, l)": lambda t, f, L: f == t,
    "defrosted (L, f)": lambda t, f, L: t == L,
}


def family_of(name: str, n_blocks: int) -> list[Protocol]:
    """The protocols of one family (a key of ``PROTOCOL_FAMILIES``) for a network of ``n_blocks`` blocks."""
    if name not in PROTOCOL_FAMILIES:
        raise ValueError(f"unknown protocol family {name!r}; expected one of {sorted(PROTOCOL_FAMILIES)}")
    keep = PROTOCOL_FAMILIES[name]
    return [p for p in candidate_protocols(n_blocks) if keep(p.transfer_depth, p.frozen_depth, n_blocks)]


def initialise_target(source_model: BlockModel, protocol, n_classes: int, seed: int,
                      transferred_lr_scale: float = 1.0) -> BlockModel:
    """The target network a protocol starts from: source blocks copied and frozen as it says.

    ``protocol`` is a prefix :class:`Protocol` (or ``(t, f)`` pair) or a :class:`BlockPlan` (or its
    code). The new model has the source's architecture with a readout for ``n_classes``, freshly
    initialised from ``seed``; the blocks the plan transfers are copies of the source's, and the
    frozen ones have ``requires_grad = False`` (the training engine reads this flag). Transferred
    blocks that train are listed in ``model.lr_scale`` (parameter name -> ``transferred_lr_scale``):
    the engine multiplies their learning rate by it (fine-tuning gently, as is common in practice,
    without touching the re-initialised blocks). The source model is not modified.
    """
    if not transferred_lr_scale > 0:
        raise ValueError(f"transferred_lr_scale={transferred_lr_scale!r} must be positive")
    plan = as_plan(protocol, source_model.n_blocks)
    model = build_like(source_model, n_classes=n_classes, seed=seed)
    for i, action in enumerate(plan.code):
        if action in "TF":
            model.blocks[i].load_state_dict(copy.deepcopy(source_model.blocks[i].state_dict()))
        if action == "F":
            model.blocks[i].requires_grad_(False)
    if transferred_lr_scale != 1.0:
        model.lr_scale = {f"blocks.{i}.{name}": float(transferred_lr_scale)
                          for i, action in enumerate(plan.code) if action == "T"
                          for name, _ in model.blocks[i].named_parameters()}
    return model
