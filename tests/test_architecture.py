"""The library's shape, read from its real import graph and syntax trees (not from regexes over text).

Imports run one way through the layers, with no circle; training goes through the engine from the
experiments alone; randomness names its generator; no code branches on a registry's names; no module
grows past about 400 lines.
"""
import ast
from pathlib import Path

import pytest

from tlcore.similarity import MEASURES
from tlcore.tasks import FAMILY_INFO

PACKAGE = Path(__file__).resolve().parents[1] / "tlcore"

# Each unit (a top-level module or a subpackage) may import only units of earlier layers (the order
# data flows in, see tlcore/__init__.py).
LAYERS = [
    ["_version", "seeds", "validation", "stats", "presets", "progress", "files"],
    ["tasks", "user_models"], ["models"], ["transfer"], ["_gradients"], ["train"],
    ["_distances"], ["cka", "neighbours", "transferability"], ["similarity"], ["selection", "profiles"],
    ["experiments"],
    ["analysis", "cache", "benchmark", "display"], ["sweep"], ["figures", "claims", "surgery"], ["advice"],
    ["advisor", "paper"], ["advisor_evaluation", "paper_section"],
    ["book", "__main__"],
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _files():
    """Every source file with the unit it belongs to (``experiments/depth.py`` -> ``experiments``)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if parts == ("__init__.py",):
            continue
        yield (parts[0] if len(parts) > 1 else path.stem), path


def _tree(path):
    return ast.parse(path.read_text(), filename=str(path))


def import_graph() -> dict[str, set[str]]:
    """unit -> the other tlcore units it imports, resolved from relative and absolute imports."""
    graph = {}
    for unit, path in _files():
        depth = len(path.relative_to(PACKAGE).parts)
        out = graph.setdefault(unit, set())
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom):
                if node.level == depth:  # from the package root
                    out.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
                elif node.level == 0 and node.module and node.module.split(".")[0] == "tlcore":
                    rest = node.module.split(".")[1:]
                    out.update(rest[:1] if rest else [a.name for a in node.names])
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("tlcore."):
                        out.add(a.name.split(".")[1])
        out.discard(unit)
    return graph


def _cycle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_every_unit_has_a_layer_and_imports_only_earlier_layers():
    graph = import_graph()
    assert set(graph) == set(LEVEL), f"units without a layer: {set(graph) - set(LEVEL)}"
    for name, imported in graph.items():
        for other in imported:
            assert other in LEVEL, (name, other)
            assert LEVEL[other] < LEVEL[name], f"{name} imports {other}, which is not below it"


def test_the_import_graph_has_no_circle_and_the_checker_finds_one():
    assert _cycle(import_graph()) is None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_training_goes_through_the_engine_from_the_experiments_alone():
    """Only the experiments (and the engine's own benchmark) import the engine's ``fit``."""
    users = set()
    for unit, path in _files():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] == "train":
                if any(a.name == "fit" for a in node.names):
                    users.add(unit)
    assert users <= {"experiments", "benchmark"}, users
    assert "experiments" in users


def _torch_draws(tree):
    draws = {"rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
            if owner == "torch" and node.func.attr in ("manual_seed", "seed"):
                yield node.lineno, "sets torch's global seed"
            if owner == "torch" and node.func.attr in draws and not any(k.arg == "generator" for k in node.keywords):
                yield node.lineno, "draws from torch's global generator"
            if owner == "np" and node.func.attr == "seed":
                yield node.lineno, "sets numpy's global seed"
            if isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "random" and \
                    node.func.attr in ("seed", "rand", "randn", "randint", "normal", "permutation"):
                yield node.lineno, "draws from numpy's global generator"


def test_one_seed_convention_and_the_checker_catches_a_global_draw():
    for unit, path in _files():
        if unit in ("seeds", "benchmark"):
            continue  # seeds defines the convention; the benchmark draws throwaway timing data
        assert not list(_torch_draws(_tree(path))), (path.name, list(_torch_draws(_tree(path))))
    planted = ast.parse("import torch, numpy as np\nx = torch.randn(3)\nnp.random.seed(0)\ntorch.manual_seed(1)")
    assert len(list(_torch_draws(planted))) == 3


def _branches_on(tree, names: set[str]):
    """``x == "name"`` / ``"name" == x`` comparisons with a registry name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Constant) and side.value in names:
                    yield node.lineno, side.value


@pytest.mark.parametrize("registry, home", [(set(FAMILY_INFO), "tasks"), (set(MEASURES), "similarity")])
def test_no_code_branches_on_a_registry_name(registry, home):
    for unit, path in _files():
        if unit == home:
            continue
        assert not list(_branches_on(_tree(path), registry)), (path.name, list(_branches_on(_tree(path), registry)))
    assert list(_branches_on(ast.parse('if family == "digits": pass'), {"digits"}))


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for _, p in _files() if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
