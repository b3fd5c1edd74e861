"""What a suite is asked to run: the profile size, which devices and dtypes, and what the machine is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .result import BenchResult

Profile = Literal["quick", "standard", "full"]
PROFILES: tuple[str, ...] = ("quick", "standard", "full")

GPU_PREFIXES = frozenset({"cuda", "gpu", "rocm", "mps", "xpu"})  # framework names that `--device gpu` means
Emit = Callable[[BenchResult], None]  # called once per finished result; the runner journals it at once


@dataclass
class SuiteOptions:
    profile: Profile = "quick"
    devices: list[str] | None = None  # None: every device the backend has; else only these ("cpu", "cuda:0")
    dtypes: list[str] | None = None  # None: the suite's default dtypes; else only these
    seed: int = 0
    machine: dict[str, Any] = field(default_factory=dict)  # MachineProfile.to_dict(), e.g. cpu caches, peaks
    threads: int | None = None  # CPU threads to pin (BLAS / torch / XLA); None: usable CPUs from the profile
    suite_args: dict[str, Any] = field(default_factory=dict)  # suite-specific, JSON-able (e.g. dataload data_dir)

    def wants_device(self, device: str) -> bool:
        """Whether `device` was asked for: by its name ("cuda:1"), its kind ("cuda" is every CUDA device), or
        "gpu" for any GPU whatever the framework calls it (torch "cuda:0"/"mps"/"xpu:0", jax "gpu:0")."""
        if self.devices is None or device in self.devices:
            return True
        prefix = device.split(":")[0]
        return prefix in self.devices or ("gpu" in self.devices and prefix in GPU_PREFIXES)

    def wants_dtype(self, dtype: str) -> bool:
        return self.dtypes is None or dtype in self.dtypes
