"""Source/target task pairs with knobs that set how similar the two tasks are.

Every family is a pure function of its knobs and a ``seed`` and returns a :class:`TaskPair`.
Synthetic families also expose their generative models (``pair.generators``) so that tests and
chapters can label the *same* inputs with the source and with the target rule, which is the
ground truth of "how related are these tasks".

Knob conventions: a dissimilarity knob at 0 makes the target identical to the source in the
aspect it controls; at its maximum the two are unrelated in that aspect.

Layout: :mod:`.records` (``Task``, ``TaskPair``), :mod:`.synthetic`, :mod:`.real`, :mod:`.images` and :mod:`.registry`
(the families by name with their metadata, ``make_pair``, ``measured_similarity``).
"""
from .images import MNIST_TARGETS, mnist_pair
from .real import digits_pair, mnist1d_pair
from .records import Task, TaskPair
from .registry import FAMILIES, FAMILY_INFO, Family, family_info, make_pair, measured_similarity
from .synthetic import hidden_manifold_pair, teacher_pair

__all__ = ["Task", "TaskPair", "hidden_manifold_pair", "teacher_pair", "mnist1d_pair", "digits_pair", "make_pair",
           "measured_similarity", "FAMILIES", "FAMILY_INFO", "Family", "family_info", "mnist_pair", "MNIST_TARGETS"]
