"""The numpy, torch and jax backends, found by name.

Backend modules are imported only when asked for, and none of them imports its framework at module
import time, so `get_backend("jax").unavailable_reason()` answers cleanly where jax is absent and the
CLI process can name backends without loading torch or jax.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from .base import DTYPES, Backend

BACKENDS: tuple[str, ...] = ("numpy", "torch", "jax")

_CLASSES: dict[str, tuple[str, str]] = {
    "numpy": ("numpy_backend", "NumpyBackend"),
    "torch": ("torch_backend", "TorchBackend"),
    "jax": ("jax_backend", "JaxBackend"),
}


def get_backend(name: str) -> Backend:
    """A fresh backend instance; ValueError for a name not in BACKENDS."""
    if name not in _CLASSES:
        raise ValueError(f"unknown backend {name!r}: choose from {', '.join(BACKENDS)}")
    module_name, class_name = _CLASSES[name]
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)()


@dataclass
class MatmulKernel:
    """A matmul ready to time: `fn(a, b)` returns the product (already compiled where the backend jits).

    `context()` is entered around the correctness check and the timing (device selection, the tf32
    flag); `env` says how the kernel computes (precision flags, the library kernel that ran).
    """

    fn: Callable[[Any, Any], Any]
    compile_s: float | None = None
    env: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    context: Callable[[], AbstractContextManager[Any]] = nullcontext


__all__ = ["BACKENDS", "DTYPES", "Backend", "MatmulKernel", "get_backend"]
