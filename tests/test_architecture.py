"""The library's shape: imports run one way, training happens in one module, one seed convention."""
import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tlcore"

# Each module may import only modules of earlier layers (the order data flows in, see tlcore/__init__.py).
LAYERS = [
    ["_version", "seeds", "validation", "stats", "presets", "progress"],
    ["tasks", "user_models"], ["models"], ["transfer"], ["train"],
    ["_distances"], ["cka", "neighbours", "transferability"], ["similarity"], ["selection", "profiles"],
    ["experiments"],
    ["analysis", "cache", "benchmark"], ["sweep"], ["figures", "claims", "surgery"], ["advisor", "paper"], ["book", "__main__"],
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
    return names


def test_every_module_has_a_layer_and_imports_only_earlier_layers():
    modules = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert set(modules) == set(LEVEL), f"modules without a layer: {set(modules) - set(LEVEL)}"
    for name, path in modules.items():
        for imported in _imports(path):
            assert imported in LEVEL, (name, imported)
            assert LEVEL[imported] < LEVEL[name], f"{name} imports {imported}, which is not below it"


def test_training_is_called_from_experiments_alone():
    for path in PACKAGE.glob("*.py"):
        calls = re.findall(r"(?<![.\w])fit\(", path.read_text())  # tlcore's fit, not scikit-learn's .fit
        if path.stem not in ("train", "experiments", "benchmark"):  # benchmark times the engine itself
            assert not calls, f"{path.name} trains networks itself"


def test_one_seed_convention():
    """No global random state, no magic seed offsets: every torch draw names its generator."""
    draws = {"rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial"}
    for path in PACKAGE.glob("*.py"):
        if path.stem in ("seeds", "benchmark"):
            continue  # seeds defines the convention; the benchmark draws throwaway timing data
        text = path.read_text()
        for smell in (r"1000 \+ ", r"\b12345\b", r"default_rng\(\[", r"np\.random\.seed", r"_generator\(seed, \d+\)"):
            assert not re.search(smell, text), f"{path.name}: {smell}"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
                assert not (owner == "torch" and node.func.attr in ("manual_seed", "seed")), \
                    f"{path.name}:{node.lineno} sets torch's global seed"
                if owner == "torch" and node.func.attr in draws:
                    assert any(k.arg == "generator" for k in node.keywords), \
                        f"{path.name}:{node.lineno} draws from torch's global generator"


def test_no_branch_on_a_measure_name_outside_the_registry():
    for path in PACKAGE.glob("*.py"):
        if path.stem == "similarity":
            continue
        assert not re.search(r"measure\s*==\s*[\"']", path.read_text()), path.name
