"""Transfer protocols on block models (the models themselves: test_models.py)."""
import pytest
import torch

from tlcore.models import CNN1d, MLP
from tlcore.transfer import Protocol, all_protocols, candidate_protocols, family_of, initialise_target


def test_models_expose_blocks_and_representations():
    x = torch.randn(7, 40)
    for model, widths in [(MLP(40, 3, width=16, depth=3, seed=0), [16, 16, 16]),
                          (CNN1d(40, 3, width=8, depth=3, seed=0), [8 * 20, 8 * 10, 8 * 5])]:
        assert model.n_blocks == 3 and model(x).shape == (7, 3)
        reps = model.representations(x)
        assert [r.shape for r in reps] == [(7, w) for w in widths]
        # the readout of the last representation is the forward pass
        assert torch.allclose(model.head(reps[-1]), model(x), atol=1e-6)


def test_protocol_validation_and_shorthands():
    assert Protocol.scratch() == Protocol(0, 0)
    assert Protocol.linear_probe(4) == Protocol(4, 4)
    assert Protocol.fine_tune(4) == Protocol(4, 0)
    assert Protocol.defrost(4, 1) == Protocol(4, 3)
    with pytest.raises(ValueError, match="frozen_depth=3 > transfer_depth=2"):
        Protocol(2, 3)
    with pytest.raises(ValueError, match="transfer_depth=-1"):
        Protocol(-1, 0)
    with pytest.raises(ValueError, match="transfer_depth=5 > n_blocks=4"):
        initialise_target(MLP(3, 2, depth=4), Protocol(5, 0), 2, seed=0)
    protos = all_protocols(2)
    assert protos == [Protocol(0, 0), Protocol(1, 0), Protocol(1, 1), Protocol(2, 0), Protocol(2, 2)]


def test_transfer_copies_freezes_and_reinitialises():
    source = MLP(6, 3, width=8, depth=4, seed=0)
    model = initialise_target(source, Protocol(2, 1), n_classes=5, seed=9)
    for i in range(2):
        assert all(torch.equal(p, q) for p, q in zip(model.blocks[i].parameters(), source.blocks[i].parameters()))
    for i in range(2, 4):
        assert not torch.equal(model.blocks[i][0].weight, source.blocks[i][0].weight)
    assert model.head.out_features == 5
    assert [p.requires_grad for p in model.blocks[0].parameters()] == [False, False]
    assert all(p.requires_grad for b in model.blocks[1:] for p in b.parameters())
    assert all(p.requires_grad for p in source.parameters())  # the source is untouched
    # the same seed re-initialises the same way, so protocols share their fresh layers
    other = initialise_target(source, Protocol(1, 0), n_classes=5, seed=9)
    assert torch.equal(other.blocks[3][0].weight, model.blocks[3][0].weight)


def test_candidate_protocols_and_families():
    every = candidate_protocols(3)
    assert len(every) == len(set(every)) == 9  # (l, 0) x4, (l, l) x3 more, defrost (3, 1), (3, 2)
    assert family_of("fine-tuned (l, 0)", 3) == [Protocol(t, 0) for t in range(4)]
    assert family_of("frozen (l, l)", 3) == [Protocol(t, t) for t in range(4)]
    assert family_of("defrosted (L, f)", 3) == [Protocol(3, f) for f in range(4)]
    with pytest.raises(ValueError, match="unknown protocol family 'surgical'"):
        family_of("surgical", 3)
