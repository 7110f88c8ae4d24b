"""C3's probe controls on real training: an untrained network's blocks and the raw inputs."""
from tlcore.experiments import compare_representations, input_probe_accuracy
from tlcore.presets import sizes
from tlcore.tasks import make_pair


def test_a_trained_source_block_beats_the_same_block_untrained_where_they_must_differ():
    """alpha = 0: the target is the source's own task, so trained features must beat random ones."""
    pair = make_pair("teacher", seed=0, shared_depth=1, alpha=0.0, **sizes(True, "teacher", "data"))
    table = compare_representations(pair, 100, seeds=(0,), measures=("linear_cka",), n_probe=200,
                                    **sizes(True, "teacher", "training"))
    probe = table[table.kind == "probe"].set_index(["network", "source_block"]).value
    last = int(table.source_block.max())
    assert probe[("source", last)] > probe[("untrained", last)] + 0.1, probe
    assert probe[("inputs", 0)] == input_probe_accuracy(pair.target, 100, seed=0)
    assert set(table[table.network == "untrained"].source_block) == set(range(1, last + 1))
