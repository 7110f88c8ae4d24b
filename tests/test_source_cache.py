"""Source networks trained once per sweep cache: the cells that share a source read it back bit for bit."""
import pandas as pd
import torch

from tlcore.experiments.cells import depth_experiment
from tlcore.experiments.source_cache import source_cache
from tlcore.experiments.training import pretrain
from tlcore.sweep import run
from tlcore.tasks import make_pair

SMALL = dict(family="teacher", n_targets=[20], protocols=[(0, 0), (2, 2), (2, 0)], shared_depth=1,
             n_source=600, n_target_pool=200, n_test=200, width=16, depth=2, source_steps=60, steps=30)


def _cell(alpha, seeds):
    return depth_experiment(alpha=alpha, seeds=seeds, **SMALL)


def test_cells_sharing_a_source_train_it_once_and_give_the_uncached_numbers(tmp_path):
    # alpha moves the target only: both cells of a task instance pre-train the same two sources
    table = run("depth", {"alpha": [0.2, 1.2]}, tmp_path, seeds=[0, 1], **SMALL)
    assert len(list((tmp_path / "sources").glob("*.pt"))) == 1
    alone = pd.concat([_cell(0.2, [0, 1]).assign(alpha=0.2), _cell(1.2, [0, 1]).assign(alpha=1.2)],
                      ignore_index=True)  # outside a sweep: nothing cached, every source trained
    pd.testing.assert_frame_equal(table.reset_index(drop=True)[alone.columns], alone, check_exact=True)


def test_another_seed_batch_or_task_is_another_entry(tmp_path):
    run("depth", {"alpha": [0.2]}, tmp_path, seeds=[0, 1], **SMALL)
    run("depth", {"alpha": [0.2]}, tmp_path, seeds=[0], **SMALL)  # a batch of one is not a slice of two
    run("depth", {"alpha": [0.2], "task_seed": [1]}, tmp_path, seeds=[0], **SMALL)  # another source task
    assert len(list((tmp_path / "sources").glob("*.pt"))) == 3


def test_a_damaged_entry_is_trained_again_with_the_same_numbers(tmp_path):
    task = make_pair("teacher", seed=0, shared_depth=1, n_source=400, n_target_pool=100, n_test=100).source
    training = dict(width=8, depth=2, source_steps=30)
    with source_cache(tmp_path, "salt"):
        models, accs = pretrain(task, [0, 1], **training)
        (entry,) = tmp_path.glob("*.pt")
        again, again_accs = pretrain(task, [0, 1], **training)  # read back
        entry.write_bytes(b"not a torch file")
        retrained, retrained_accs = pretrain(task, [0, 1], **training)
    assert torch.load(entry, weights_only=True)["params"][0]  # rewritten, loadable without pickle
    for other, other_accs in ((again, again_accs), (retrained, retrained_accs)):
        assert (other_accs == accs).all()
        for a, b in zip(models, other):
            assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
