"""Networks made of named blocks plus a readout, so that "the first l layers" is well defined.

Every model has ``.blocks`` (an ``nn.ModuleList``; one block is one hidden layer with its
nonlinearity), ``.head`` (the linear readout), ``.config`` (the keyword arguments that rebuild
it) and ``.representations(x)``, the list of per-block activations, flattened to ``(N, features)``.

Initialisation never reads or sets torch's global random state, so models built side by side in
threads, processes or Dask workers cannot disturb each other. The layers are first built on the
``meta`` device (no memory, no random draws), then given uninitialised CPU memory, then every
parameter is drawn from one private ``torch.Generator().manual_seed(seed)`` with PyTorch's default
distributions for ``nn.Linear`` and ``nn.Conv1d``: the weight by ``kaiming_uniform_(a=sqrt(5))``,
that is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias by U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
where ``fan_in`` is ``in_features`` (linear) or ``in_channels * kernel_size`` (conv). The order of
the draws is fixed: the blocks in order, in each its layer's weight then bias, then the head's
weight then bias (the order of ``model.parameters()``). This is exactly what PyTorch's own
constructors draw after ``torch.manual_seed(seed)``, so a seed gives the same weights as it did
when tlcore seeded the global generator. ``seed=None`` draws a fresh seed from OS entropy.

Layout: :mod:`.base` (``BlockModel``), :mod:`.networks` (MLP, 1-D CNN), :mod:`.resnet`,
:mod:`.torch_source` (any torch model as a block model) and :mod:`.registry` (kinds by name, files).
"""
from .base import FORMAT, MAX_LOAD_PARAMETERS, BlockModel
from .networks import CNN1d, MLP
from .registry import MODELS, build_like, build_model, load_model, model_kind, save_model
from .resnet import ResNet, conv_layers
from .torch_source import TorchBlockModel, as_block_model, load_torch_source

__all__ = ["BlockModel", "MLP", "CNN1d", "ResNet", "TorchBlockModel", "MODELS", "build_model", "build_like",
           "model_kind", "conv_layers", "as_block_model", "load_torch_source", "save_model", "load_model",
           "MAX_LOAD_PARAMETERS", "FORMAT"]
