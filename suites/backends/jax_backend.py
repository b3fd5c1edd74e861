"""JAX on CPU, GPU and TPU: jitted, compile time kept apart, every timed block ends in block_until_ready.

jax is imported lazily. JAX is 32-bit unless `jax_enable_x64` is on, so fp64 is skipped (not silently
run as fp32) when it is off. fp32 asks for Precision.HIGHEST; on GPU, tf32 is fp32 at DEFAULT
precision (XLA then uses tf32 tensor cores); the precision asked for is recorded with each result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..timing import Clock, WallClock
from . import MatmulKernel
from .base import Backend, Built, HostTransfer, NotMeasured, fresh_buffers

_JAX_DTYPES = {"fp64": "float64", "fp32": "float32", "tf32": "float32", "bf16": "bfloat16", "fp16": "float16"}
_PLATFORMS = ("cpu", "gpu", "tpu")
X64_OFF = "jax_enable_x64 is off: float64 would silently run as float32"
PINNED_NOT_MEASURED = "pinned host copies are not measured with jax (only torch's pin_memory() path is implemented)"
D2H_NOT_MEASURED = ("not measured with jax: an array caches its host copy, so repeated device-to-host reads would "
                    "not move data")


class JaxBackend(Backend):
    name = "jax"

    def __init__(self) -> None:
        self._jax: Any = None
        self._devices: dict[str, Any] | None = None

    @property
    def jax(self) -> Any:
        if self._jax is None:
            import jax

            self._jax = jax
        return self._jax

    def unavailable_reason(self) -> str | None:
        try:
            self.jax  # noqa: B018 - the import is the check
        except ImportError:
            return "jax not installed"
        return None

    def _device_map(self) -> dict[str, Any]:
        if self._devices is None:
            found: dict[str, Any] = {}
            for platform in _PLATFORMS:
                try:
                    devs = self.jax.devices(platform)
                except RuntimeError:  # no such platform here
                    continue
                for i, dev in enumerate(devs):
                    found[f"{platform}:{i}"] = dev
            self._devices = found
        return self._devices

    def devices(self) -> list[str]:
        return list(self._device_map())

    def device_kind(self, device: str) -> str:
        return device.split(":")[0]

    def x64_enabled(self) -> bool:
        return bool(_config(self.jax, "jax_enable_x64"))

    def unsupported_reason(self, device: str, dtype: str, op: str = "matmul") -> str | None:
        platform = device.split(":")[0]
        if dtype == "fp8":
            if op != "matmul":
                return f"fp8 is benchmarked only as a matmul mode, not for {op}"
            return "fp8 matmul is not benchmarked on jax (no scaled e4m3 matmul path here)"
        if dtype not in _JAX_DTYPES:
            return f"unknown dtype {dtype!r}"
        if dtype == "fp64" and not self.x64_enabled():
            return X64_OFF
        if op != "matmul":
            return f"tf32 is benchmarked only as a matmul mode, not for {op}" if dtype == "tf32" else None
        if dtype == "tf32":
            if platform == "cpu":
                return "tf32 is a GPU tensor-core mode; XLA on the CPU computes fp32"
            if platform == "tpu":
                return "TPUs have no tf32: DEFAULT precision there multiplies fp32 in bf16 passes"
            cc = getattr(self._device_map().get(device), "compute_capability", None)
            if cc is not None and tuple(int(x) for x in str(cc).split(".")[:2]) < (8, 0):
                return f"tf32 tensor cores need compute capability >= 8.0; {device} has {cc}"
        return None

    def random(self, shape: tuple[int, ...], dtype: str, device: str, seed: int) -> Any:
        """Normal random numbers made on the device itself (no host generation or transfer of large arrays)."""
        jax = self.jax
        jnp = jax.numpy
        base = jnp.float64 if dtype == "fp64" else jnp.float32
        with jax.default_device(self._device_map()[device]):
            x = jax.random.normal(jax.random.key(seed), shape, dtype=base)
            return x.astype(jnp.dtype(_JAX_DTYPES[dtype])).block_until_ready()

    def to_numpy64(self, x: Any) -> Any:
        import numpy as np

        return np.asarray(self.jax.device_get(x)).astype(np.float64)

    def clock(self, device: str) -> Clock:
        jax = self.jax
        return WallClock(sync=lambda outs: jax.block_until_ready(outs), name="perf_counter+block_until_ready")

    def env(self, device: str) -> dict[str, Any]:
        jax = self.jax
        dev = self._device_map().get(device)
        try:
            affinity: int | None = len(os.sched_getaffinity(0))
        except AttributeError:
            affinity = None
        out: dict[str, Any] = {
            "jax_version": jax.__version__,
            "jax_enable_x64": self.x64_enabled(),
            "jax_default_matmul_precision": _config(jax, "jax_default_matmul_precision"),
            "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
            "cpu_count": os.cpu_count(),
            "affinity_cpus": affinity,
            "device_kind": getattr(dev, "device_kind", None),
            "platform_version": _platform_version(dev),
        }
        cc = getattr(dev, "compute_capability", None)
        if cc is not None:
            out["compute_capability"] = str(cc)
        return out

    def sync(self, device: str) -> None:
        return None  # jax syncs on arrays (block_until_ready), which the clock does

    # -- beyond the contract: what the matmul suite needs ----------------------------------------

    @contextmanager
    def threads(self, n: int | None) -> Iterator[dict[str, Any]]:
        """XLA sizes its CPU pool when jax starts; this records what was asked and what XLA has."""
        yield {
            "threads_requested": n,
            "threads_pinned_with": None,
            "threads_note": "XLA's CPU thread pool is sized at start-up (all visible CPUs unless XLA_FLAGS "
                            "says otherwise); it is not pinned per suite",
        }

    def matmul_inputs(self, m: int, n: int, k: int, dtype: str, device: str, seed: int) -> tuple[Any, Any]:
        return self.random((m, k), dtype, device, seed), self.random((k, n), dtype, device, seed + 1)

    def matmul_kernel(self, device: str, dtype: str, a: Any, b: Any) -> MatmulKernel:
        """jit, lower and compile for these shapes; compile_s is the lower+compile time."""
        jax = self.jax
        precision = jax.lax.Precision.HIGHEST if dtype in ("fp32", "fp64") else jax.lax.Precision.DEFAULT

        def matmul(x: Any, y: Any) -> Any:
            return jax.numpy.matmul(x, y, precision=precision)

        t0 = time.perf_counter()
        lowered = jax.jit(matmul).lower(a, b)
        t1 = time.perf_counter()
        compiled = lowered.compile()
        t2 = time.perf_counter()
        env = {"op": "jax.numpy.matmul (jit)", "precision": precision.name}
        if dtype == "tf32":
            env["precision_note"] = "fp32 inputs at DEFAULT precision: XLA on GPU uses tf32 tensor cores"
        return MatmulKernel(fn=compiled, compile_s=t2 - t0, env=env,
                            notes=[f"lower {t1 - t0:.4f} s + compile {t2 - t1:.4f} s"])

    def free_memory_bytes(self, device: str) -> int | None:
        dev = self._device_map().get(device)
        try:
            stats = dev.memory_stats() if dev is not None else None
        except Exception:  # noqa: BLE001 - some platforms raise instead of returning None
            stats = None
        if not stats or "bytes_limit" not in stats:
            return None
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))

    def release(self, device: str) -> None:
        return None

    # -- beyond the contract: what the memory suite times ----------------------------------------

    def stream_kernel(self, kernel: Any, arrays: dict[str, Any], scalar: float) -> Built:
        """Jitted with the output's old buffer donated, so XLA writes in place instead of allocating each call."""
        jax = self.jax
        jnp = jax.numpy
        s = scalar
        bodies: dict[str, Callable[..., Any]] = {
            "copy": lambda old, a: jnp.copy(a),
            "scale": lambda old, c: s * c,
            "add": lambda old, a, b: a + b,
            "triad": lambda old, b, c: b + s * c,
        }
        inputs = [arrays[name] for name in kernel.inputs]
        jitted = jax.jit(bodies[kernel.name], donate_argnums=0, keep_unused=True)
        t0 = time.perf_counter()
        compiled = jitted.lower(arrays[kernel.output], *inputs).compile()
        compile_s = time.perf_counter() - t0
        out = kernel.output

        def call(i: int) -> Any:
            arrays[out] = compiled(arrays[out], *inputs)
            return arrays[out]

        def renew() -> None:
            nonlocal inputs
            fresh_buffers(arrays, (*kernel.inputs, kernel.output),
                          lambda x: jnp.array(x, copy=True).block_until_ready())
            inputs = [arrays[name] for name in kernel.inputs]

        # Each call donates the previous output, so only the newest output is alive; it depends on every
        # earlier call, so blocking on it waits for the whole block.
        clock = WallClock(lambda outs: outs[-1].block_until_ready() if outs else None,
                          name="perf_counter+block_until_ready")
        impl = f"jax.jit({kernel.formula.split(' = ')[1]}, donate_argnums=0)"
        return Built(call, impl, compile_s, clock, renew=renew)

    def dispatch_call(self, a: Any, b: Any, c: Any) -> Built:
        """jax arrays are immutable: the jitted a + b returns a new tiny array (c is not written)."""
        t0 = time.perf_counter()
        compiled = self.jax.jit(lambda x, y: x + y).lower(a, b).compile()
        return Built(lambda i: compiled(a, b), "jax.jit(a + b)", time.perf_counter() - t0)

    def memory_env(self, device: str) -> dict[str, Any]:
        env = dict(self.env(device))
        if self.device_kind(device) == "cpu":
            env.setdefault("XLA_FLAGS", os.environ.get("XLA_FLAGS"))
        return env

    def threading_note(self, device: str, threads: int) -> str | None:
        if self.device_kind(device) != "cpu":
            return None
        return "XLA CPU chooses the parallelism of elementwise loops itself"

    def total_memory_bytes(self, device: str) -> int | None:
        dev = self._device_map().get(device)
        try:
            stats = (dev.memory_stats() if dev is not None else None) or {}
            return int(stats["bytes_limit"]) if "bytes_limit" in stats else None
        except Exception:  # noqa: BLE001 - unknown memory only means no cap
            return None

    def transfer_unsupported(self, direction: str, memory: str) -> str | None:
        if memory == "pinned":
            return PINNED_NOT_MEASURED
        return D2H_NOT_MEASURED if direction == "device_to_host" else None

    def host_transfer(self, direction: str, memory: str, n: int, dtype: str, device: str, seed: int
                      ) -> HostTransfer:
        """jax.device_put of a host numpy array (host to device, pageable: the one path measured here)."""
        import numpy as np

        reason = self.transfer_unsupported(direction, memory)
        if reason is not None:
            raise NotMeasured(reason)
        jax = self.jax
        target = self._device_map()[device]
        host = np.random.default_rng(seed).standard_normal(n, dtype=np.dtype(_JAX_DTYPES[dtype]))
        first = jax.device_put(host, target)
        same = bool(np.array_equal(np.asarray(first), host))
        del first
        return HostTransfer(Built(lambda i: jax.device_put(host, target), "jax.device_put(host_numpy, device)"), same)


def _config(jax: Any, name: str) -> Any:
    """A jax config value, whichever way this jax version exposes it."""
    try:
        return getattr(jax.config, name)
    except AttributeError:
        return jax.config.read(name)


def _platform_version(dev: Any) -> str | None:
    try:
        return str(dev.client.platform_version) if dev is not None else None
    except Exception:  # noqa: BLE001 - informational only
        return None
