"""What every backend (numpy, torch, jax) offers the suites: devices, dtypes, arrays, a correct clock.

A backend module is imported only inside the benchmark child process for that backend, so the CLI
process never loads torch or jax.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..timing import Clock

# Canonical dtype names used in results and fullnames.
DTYPES = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8")


class Backend(ABC):
    name: str

    @abstractmethod
    def unavailable_reason(self) -> str | None:
        """None when usable here; otherwise why not (e.g. "jax not installed")."""

    @abstractmethod
    def devices(self) -> list[str]:
        """Devices this backend can run on here, e.g. ["cpu"], ["cpu", "cuda:0"], ["tpu:0", ...]."""

    @abstractmethod
    def device_kind(self, device: str) -> str:
        """"cpu" | "gpu" | "tpu": decides which peak applies and whether host<->device makes sense."""

    @abstractmethod
    def unsupported_reason(self, device: str, dtype: str, op: str = "matmul") -> str | None:
        """None when `op` in `dtype` runs on `device`; else why not (recorded as `skipped`)."""

    @abstractmethod
    def random(self, shape: tuple[int, ...], dtype: str, device: str, seed: int) -> Any:
        """Random (never constant) array on the device. fp8/tf32 as the backend represents them."""

    @abstractmethod
    def to_numpy64(self, x: Any) -> Any:
        """Copy to host as float64 numpy (for correctness checks, never inside a timed region)."""

    @abstractmethod
    def clock(self, device: str) -> Clock:
        """The clock that times this device correctly (syncs asynchronous work)."""

    @abstractmethod
    def env(self, device: str) -> dict[str, Any]:
        """What affects the figures: thread counts, BLAS library/kernel, tf32 allowed, jax x64 ..."""

    def sync(self, device: str) -> None:  # noqa: B027 - optional: synchronous backends need nothing
        """Wait for all queued work on `device` (outside timed regions, e.g. before freeing memory)."""
