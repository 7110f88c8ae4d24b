"""Per-block protocols: re-initialise, transfer and train, or transfer and freeze each block separately."""

import pytest
import torch

from tlcore.experiments import Run, TrainingConfig, evaluate_protocols, pretrain
from tlcore.models import MLP
from tlcore.tasks import hidden_manifold_pair
from tlcore.train import fit
from tlcore.transfer import BlockPlan, Protocol, as_plan, candidate_protocols, initialise_target, surgical_plans


def _same(a, b):
    return torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def _linear(block):
    return next(m for m in block.modules() if isinstance(m, torch.nn.Linear))


def test_every_prefix_protocol_is_a_plan_and_back():
    for p in candidate_protocols(4):
        plan = BlockPlan.from_protocol(p, 4)
        assert plan.prefix == p and as_plan(p, 4) == plan and as_plan(tuple(vars(p).values()), 4) == plan
    assert BlockPlan("TFF").prefix is None and BlockPlan("RTT").prefix is None
    assert BlockPlan("FFT").prefix == Protocol(3, 2)  # "train only the last block" is incremental defrosting
    # every surgical plan transfers every block; none re-initialises one
    assert all("R" not in plan.code and len(plan.code) == 3 for plan in surgical_plans(3))
    assert {p.code for p in surgical_plans(3)} == {"TFF", "TTF", "FTF", "FFT"}


@pytest.mark.parametrize("code, message", [("TXF", r"unknown action\(s\) \['X'\]"), ("", "non-empty"),
                                           ("TT", "has 2 actions for a network of 3 blocks")])
def test_bad_plans_are_refused_with_the_bad_value(code, message):
    with pytest.raises(ValueError, match=message):
        initialise_target(MLP(5, 2, width=8, depth=3, seed=0), code, 2, seed=1)


def test_plan_initialisation_copies_freezes_and_reinitialises_block_by_block():
    source = MLP(5, 2, width=8, depth=3, seed=0)
    target = initialise_target(source, "RTF", 3, seed=1, transferred_lr_scale=0.5)
    blocks = [(_linear(a), _linear(b)) for a, b in zip(source.blocks, target.blocks)]
    assert not _same(*blocks[0]) and _same(*blocks[1]) and _same(*blocks[2])
    assert [all(p.requires_grad for p in b.parameters()) for b in target.blocks] == [True, True, False]
    assert set(target.lr_scale) == {f"blocks.1.{n}" for n, _ in target.blocks[1].named_parameters()}


def test_frozen_blocks_stay_and_trained_ones_move_in_the_batched_engine():
    source = MLP(5, 3, width=8, depth=3, seed=0)
    x, y = torch.randn(64, 5, generator=torch.Generator().manual_seed(0)), torch.arange(64) % 3
    members = [initialise_target(source, code, 3, seed=2) for code in ("TFT", "FTF", "RRR")]
    trained = fit(members, x, y, [torch.arange(64)] * 3, [0, 1, 2], steps=20, lr=1e-2).to_models()
    for code, model in zip(("TFT", "FTF"), trained):
        for action, a, b in zip(code, source.blocks, model.blocks):
            assert _same(_linear(a), _linear(b)) == (action == "F"), (code, action)


def test_prefix_plans_train_exactly_like_their_protocols():
    pair = hidden_manifold_pair(0.3, 0.3, seed=0, n_source=800, n_target_pool=400, n_test=300)
    cfg = TrainingConfig(width=16, depth=3, source_steps=100, steps=60, device="cpu")
    sources, _ = pretrain(pair.source, [0, 1], width=16, depth=3, source_steps=100, device="cpu")
    runs = [Run(s, torch.arange(100), seed, seed + 10) for seed, s in enumerate(sources)]
    prefixes = [Protocol(0, 0), Protocol(2, 1), Protocol(3, 3), Protocol(3, 0)]
    plans = [BlockPlan.from_protocol(p, 3).code for p in prefixes]
    evals = {"test": (pair.target.x_test, pair.target.y_test)}
    a = evaluate_protocols(runs, prefixes, pair.target, evals, cfg)["test"]
    b = evaluate_protocols(runs, plans, pair.target, evals, cfg)["test"]
    mixed = evaluate_protocols(runs, [*prefixes, "TFF", "FTF"], pair.target, evals, cfg)["test"]
    assert (a == b).all() and (mixed[:, :4] == a).all()
    assert not (mixed[:, 4] == mixed[:, 5]).all()  # two surgical plans are two different networks


def test_depth_sweep_of_plans_has_a_plan_column_and_refuses_a_mix():
    from tlcore.experiments import depth_sweep

    pair = hidden_manifold_pair(0.3, 0.3, seed=0, n_source=800, n_target_pool=400, n_test=300)
    small = dict(width=16, depth=3, source_steps=100, steps=60, device="cpu")
    table = depth_sweep(pair, [40], ["RRR", "TFF", "FTR"], seeds=[0, 1], n_val=100, **small)
    assert list(table.plan) == ["RRR", "TFF", "FTR"] * 2 and "transfer_depth" not in table
    prefix = depth_sweep(pair, [40], [(0, 0), (2, 1)], seeds=[0, 1], n_val=100, **small)
    # the same networks, whichever way the protocols are written
    assert table[table.plan.isin(["RRR", "FTR"])].test_acc.tolist() == prefix.test_acc.tolist()
    with pytest.raises(ValueError, match="mix prefix pairs and block plans"):
        depth_sweep(pair, [40], [(0, 0), "TFF"], seeds=[0], dry_run=True, **small)
