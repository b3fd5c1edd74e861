"""numpy on the CPU: the "plain IT server" reference path, BLAS-bound and synchronous.

Threads are pinned with threadpoolctl for the duration of a suite and recorded with the BLAS library,
its version and the kernel architecture it chose (e.g. OpenBLAS "SkylakeX"), because those decide the
figure more than numpy itself does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..timing import Clock, WallClock
from . import MatmulKernel
from .base import Backend, Built, fresh_buffers

_NUMPY_DTYPES = {"fp64": "float64", "fp32": "float32", "fp16": "float16"}

_UNSUPPORTED = {
    "bf16": "numpy has no bfloat16 dtype",
    "tf32": "tf32 is a GPU tensor-core mode; numpy computes fp32 on the CPU",
    "fp8": "numpy has no fp8 dtype",
}
FP16_MATMUL = "numpy float16 matmul does not call BLAS (numpy's own scalar loop): not a measure of the machine"
NUMPY_TRIAD = ("numpy has no fused multiply-add ufunc: a is written twice and read once more than STREAM counts, "
               "so the figure (STREAM count) is below the memory system's triad bandwidth")


class NumpyBackend(Backend):
    name = "numpy"

    def unavailable_reason(self) -> str | None:
        try:
            import numpy  # noqa: F401
        except ImportError:
            return "numpy not installed"
        return None

    def devices(self) -> list[str]:
        return ["cpu"]

    def device_kind(self, device: str) -> str:
        return "cpu"

    def unsupported_reason(self, device: str, dtype: str, op: str = "matmul") -> str | None:
        if device != "cpu":
            return f"numpy runs on the CPU only, not {device}"
        if op == "matmul" and dtype == "fp16":
            return FP16_MATMUL
        if dtype in _NUMPY_DTYPES:
            return None
        return _UNSUPPORTED.get(dtype, f"unknown dtype {dtype!r}")

    def random(self, shape: tuple[int, ...], dtype: str, device: str, seed: int) -> Any:
        import numpy as np

        rng = np.random.default_rng(seed)
        if dtype == "fp16":  # the generator makes fp32/fp64 only
            return rng.standard_normal(shape, dtype=np.float32).astype(np.float16)
        return rng.standard_normal(shape, dtype=np.dtype(_NUMPY_DTYPES[dtype]))

    def to_numpy64(self, x: Any) -> Any:
        import numpy as np

        return np.asarray(x, dtype=np.float64)

    def clock(self, device: str) -> Clock:
        return WallClock()

    def env(self, device: str) -> dict[str, Any]:
        import numpy as np

        blas = blas_info()
        return {
            "numpy_version": np.__version__,
            "threads": blas[0]["num_threads"] if blas else None,
            "blas": blas,
        }

    # Beyond the Backend contract: what the matmul suite needs.

    @contextmanager
    def threads(self, n: int | None) -> Iterator[dict[str, Any]]:
        """Pin the BLAS pool to `n` threads (None: leave it) until the block ends; yields what was set."""
        from threadpoolctl import threadpool_limits

        if n is None:
            yield {"threads_requested": None}
            return
        with threadpool_limits(limits=n, user_api="blas"):
            yield {"threads_requested": n, "threads_pinned_with": "threadpoolctl"}

    def matmul_inputs(self, m: int, n: int, k: int, dtype: str, device: str, seed: int) -> tuple[Any, Any]:
        return self.random((m, k), dtype, device, seed), self.random((k, n), dtype, device, seed + 1)

    def matmul_kernel(self, device: str, dtype: str, a: Any, b: Any) -> MatmulKernel:
        import numpy as np

        return MatmulKernel(fn=np.matmul, env={"op": "numpy.matmul"})

    def free_memory_bytes(self, device: str) -> int | None:
        return None  # host memory: the suite reads it

    def release(self, device: str) -> None:
        return None

    # Beyond the Backend contract: what the memory suite times.

    def stream_kernel(self, kernel: Any, arrays: dict[str, Any], scalar: float) -> Built:
        """numpy ufuncs writing with `out=` (copyto for copy); triad is two ufuncs (no fused multiply-add)."""
        import numpy as np

        s = scalar
        a, b, c = arrays["a"], arrays["b"], arrays["c"]

        def renew() -> None:  # the kernels below read a, b, c from this scope: rebinding them switches buffers
            nonlocal a, b, c
            fresh_buffers(arrays, (*kernel.inputs, kernel.output), lambda x: np.array(x, copy=True))
            a, b, c = arrays["a"], arrays["b"], arrays["c"]

        if kernel.name == "copy":
            return Built(lambda i: np.copyto(c, a), "np.copyto(c, a)", renew=renew)
        if kernel.name == "scale":
            return Built(lambda i: np.multiply(c, s, out=b), "np.multiply(c, s, out=b)", renew=renew)
        if kernel.name == "add":
            return Built(lambda i: np.add(a, b, out=c), "np.add(a, b, out=c)", renew=renew)

        def triad(i: int) -> Any:
            np.multiply(c, s, out=a)
            return np.add(a, b, out=a)

        return Built(triad, "np.multiply(c, s, out=a); np.add(a, b, out=a)", renew=renew,
                     notes={"numpy_triad": NUMPY_TRIAD}, calls=2)

    def dispatch_call(self, a: Any, b: Any, c: Any) -> Built:
        import numpy as np

        return Built(lambda i: np.add(a, b, out=c), "np.add(a, b, out=c)")

    def memory_env(self, device: str) -> dict[str, Any]:
        return {**self.env(device), "ufunc_threads": 1}

    def threading_note(self, device: str, threads: int) -> str | None:
        if self.device_kind(device) != "cpu":
            return None
        return "numpy ufuncs run on one thread (BLAS threads do not apply): numpy figures are one core's bandwidth"


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries numpy loaded, as threadpoolctl reports them (library, version, kernel, threads)."""
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "architecture", "threading_layer", "num_threads", "prefix")
    return [{k: pool.get(k) for k in keys} for pool in threadpool_info() if pool.get("user_api") == "blas"]
