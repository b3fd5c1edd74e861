"""What every backend (numpy, torch, jax) offers the suites: devices, dtypes, arrays, a correct clock.

A backend module is imported only inside the benchmark child process for that backend, so the CLI
process never loads torch or jax. Beyond the contract, a backend builds the framework-specific calls
the memory suite times (STREAM kernels, the dispatch-latency add, host<->device copies); the defaults
here say "not offered" so a backend without them is still a Backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..timing import Call, Clock

if TYPE_CHECKING:
    from ..memory_stream import StreamKernel

# Canonical dtype names used in results and fullnames.
DTYPES = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8")


@dataclass
class Built:
    """A call ready to time: `call(i)` runs it once (already compiled where the framework jits)."""

    call: Call
    implementation: str
    compile_s: float | None = None
    clock: Clock | None = None  # set when the backend's clock cannot time this call (donated jax buffers)
    notes: dict[str, Any] = field(default_factory=dict)
    renew: Callable[[], None] | None = None  # move the kernel's arrays to freshly allocated buffers (untimed)
    calls: int = 1  # framework calls (dispatches) per iteration: each pays the per-call overhead


@dataclass
class HostTransfer:
    """One host<->device copy ready to time, already run once: `same` says both sides held equal bytes after it."""

    built: Built
    same: bool


class NotMeasured(Exception):
    """Raised by a backend when something cannot be measured here; the message is the recorded reason."""


def fresh_buffers(arrays: dict[str, Any], names: tuple[str, ...], copy: Callable[[Any], Any]) -> None:
    """Replace `arrays[name]` for each of `names` by a copy in newly allocated memory (the old ones are freed)."""
    for name in names:
        arrays[name] = copy(arrays[name])


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

    def release(self, device: str) -> None:  # noqa: B027 - optional: only caching allocators hold memory
        """Hand cached, unused device memory back (e.g. torch.cuda.empty_cache)."""

    # -- what the memory suite times; the defaults say a backend does not offer it ---------------------

    def stream_kernel(self, kernel: StreamKernel, arrays: dict[str, Any], scalar: float) -> Built:
        """The STREAM `kernel` on `arrays` ("a", "b", "c"), writing into the existing output array."""
        raise NotImplementedError(f"{self.name} has no STREAM kernels")

    def dispatch_call(self, a: Any, b: Any, c: Any) -> Built:
        """The smallest useful op, a + b of tiny arrays (into c where the framework can): framework overhead
        and kernel launch."""
        raise NotImplementedError(f"{self.name} has no dispatch-latency call")

    def memory_env(self, device: str) -> dict[str, Any]:
        """`env(device)` plus what decides elementwise (not BLAS) figures, e.g. the threads they run on."""
        return dict(self.env(device))

    def threading_note(self, device: str, threads: int) -> str | None:
        """How many threads elementwise ops use on `device` (`threads`: what the suite asked for); None: nothing
        to say."""
        return None

    def elementwise_threads(self, n: int) -> AbstractContextManager[Any]:
        """Run elementwise CPU ops on `n` threads until the block ends (default: the framework decides)."""
        return nullcontext()

    def on_device(self, device: str) -> AbstractContextManager[Any]:
        """Make `device` current for the block (ops and events with no device go to the current device)."""
        return nullcontext()

    def total_memory_bytes(self, device: str) -> int | None:
        """Total memory of an accelerator as the framework reports it (None when it does not say)."""
        return None

    def transfer_unsupported(self, direction: str, memory: str) -> str | None:
        """None when host<->device copies in `direction` ("host_to_device" | "device_to_host") from `memory`
        ("pageable" | "pinned") host memory are measured; else why not."""
        return f"host<->device copies are not measured for {self.name}"

    def host_transfer(self, direction: str, memory: str, n: int, dtype: str, device: str, seed: int
                      ) -> HostTransfer:
        """A copy of `n` elements across the host-device link, run once; NotMeasured when it cannot run here."""
        raise NotMeasured(self.transfer_unsupported(direction, memory) or "not implemented")
