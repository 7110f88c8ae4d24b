"""Trained source networks kept on disk, so that the cells that share a source train it once.

A phase map's knob moves the target task only: its cells of one task instance (one per knob value)
pre-train the same source networks, and so do the other map's and the learning-rate map's cells of
that instance; the surgical and real-data sweeps share theirs across knob values the same way. Inside a sweep cell (:mod:`tlcore.sweep` names the folder), :func:`cached_sources`
stores each batch of source networks under a key made of everything that decides its numbers: the
source task's data (hashed), the seeds in their order (batched training is not bitwise independent
of the batch's composition, so the same seeds in another batch are another entry), the architecture
and the settings that reach source training (not the target's steps or learning-rate scale), the
device, and the cells' code fingerprint and versions. A network read back is bit-identical to the
one trained, so a table does not depend on which cell happened to train its sources.

Entries are tensors written atomically (``<folder>/<key>.pt``) and read with ``weights_only=True``;
an unreadable or mismatched entry is trained again and overwritten. Outside a sweep cell nothing
is cached.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..files import write_atomic
from ..tasks import Task
from ..validation import resolve_device

__all__ = ["source_cache", "cached_sources", "task_digest"]

_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("tlcore_source_cache", default=None)


@contextlib.contextmanager
def source_cache(folder, salt: str):
    """Within the block, :func:`cached_sources` keeps source networks in ``folder``; ``salt`` (the
    code fingerprint and versions of the cells) is part of every key."""
    token = _ACTIVE.set((Path(folder), str(salt)))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def task_digest(task: Task) -> str:
    """A hash of the data a source network sees: training and test tensors (dtype, shape, bytes) and
    the number of classes."""
    h = hashlib.sha256()
    for t in (task.x_train, task.y_train, task.x_test, task.y_test):
        a = torch.as_tensor(t).detach().cpu().contiguous()
        h.update(f"{a.dtype}{tuple(a.shape)}".encode())
        h.update(a.numpy().tobytes())
    h.update(str(task.n_classes).encode())
    return h.hexdigest()


def _key(task: Task, seeds: Sequence[int], kind: str, cfg, salt: str) -> str:
    described = {"task": task_digest(task), "seeds": [int(s) for s in seeds], "kind": kind,
                 "width": cfg.width, "depth": cfg.depth, "source_steps": cfg.source_steps,
                 "batch_size": cfg.batch_size, "lr": cfg.lr, "weight_decay": cfg.weight_decay,
                 "device": resolve_device(cfg.device).type, "salt": salt}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:40]


def _read(path: Path, build: Callable[[], list], n: int):
    """The entry's networks (built by ``build``, parameters loaded) and accuracies, or None."""
    try:
        stored = torch.load(io.BytesIO(path.read_bytes()), weights_only=True)
        params, accs = stored["params"], stored["accs"]
        models = build()
        if len(params) != n or len(models) != n or len(accs) != n:
            return None
        with torch.no_grad():
            for model, saved in zip(models, params):
                own = dict(model.named_parameters())
                if set(own) != set(saved) or any(own[k].shape != saved[k].shape for k in own):
                    return None
                for name, p in own.items():
                    p.copy_(saved[name])
        return models, np.asarray(accs.numpy(), dtype=np.float32)
    except Exception:  # a damaged or foreign file fails in many ways (unpickling, shapes, keys): train again
        return None


def cached_sources(task: Task, seeds: Sequence[int], kind: str, cfg, train: Callable[[], tuple],
                   build: Callable[[], list]) -> tuple[list, np.ndarray]:
    """``train()`` (source networks and their test accuracies), or its stored result when a sweep cell
    has trained the same batch before. ``build()`` makes untrained networks of the same architecture,
    one per seed, into which a stored entry is loaded."""
    active = _ACTIVE.get()
    if active is None:
        return train()
    folder, salt = active
    path = folder / f"{_key(task, seeds, kind, cfg, salt)}.pt"
    if path.exists():
        found = _read(path, build, len(seeds))
        if found is not None:
            return found
    models, accs = train()
    buffer = io.BytesIO()
    torch.save({"params": [{k: p.detach().cpu().clone() for k, p in m.named_parameters()} for m in models],
                "accs": torch.as_tensor(np.asarray(accs))}, buffer)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buffer.getvalue())
    return models, accs
