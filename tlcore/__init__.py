"""tlcore: how much of a pre-trained network to transfer, and from which source.

Modules, in the order data flows through them: ``tasks`` -> ``models`` -> ``transfer`` /
``train`` -> ``similarity`` -> ``selection`` -> ``sweep``.
"""
from .models import CNN1d, MLP, load_model, save_model
from .tasks import Task, TaskPair, make_pair
from .transfer import Protocol, transfer

__version__ = "0.1.0"
__all__ = ["CNN1d", "MLP", "Protocol", "Task", "TaskPair", "load_model", "make_pair", "save_model",
           "transfer", "__version__"]
