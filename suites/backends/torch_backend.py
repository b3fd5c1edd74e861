"""PyTorch on CPU, CUDA (and ROCm, which torch also calls cuda), Apple MPS and Intel XPU.

torch is imported lazily (on first use), never at module import. What decides a figure is recorded
with it: threads, the tf32 flag (set per benchmark: on for tf32, off for fp32), the reduced-precision
reduction flags, the compute capability, and on the CPU which oneDNN kernel a bf16/fp16 matmul ran.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from typing import Any

from ..timing import Clock, CudaEventClock, WallClock
from . import MatmulKernel
from .base import Backend, Built, HostTransfer, NotMeasured, fresh_buffers

_TORCH_DTYPES = {"fp64": "float64", "fp32": "float32", "tf32": "float32", "bf16": "bfloat16",
                 "fp16": "float16", "fp8": "float8_e4m3fn"}

TF32_MIN_CC = (8, 0)  # Ampere: tensor-core tf32 and bf16
FP8_MIN_CC = (8, 9)  # Ada / Hopper: e4m3 tensor cores (torch._scaled_mm)

_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16", "amx_fp16")

Capability = Callable[[int], tuple[int, int]]


class TorchBackend(Backend):
    """`capability(index)` and `hip_version` can be injected, so the CUDA dtype rules are testable without a GPU."""

    name = "torch"

    def __init__(self, capability: Capability | None = None, hip_version: str | None | bool = False):
        self._capability_fn = capability
        self._hip_override = hip_version  # False: ask torch
        self._torch: Any = None
        self._onednn_impl: dict[str, str | None] = {}

    # -- the Backend contract -------------------------------------------------------------------

    @property
    def torch(self) -> Any:
        if self._torch is None:
            import torch

            self._torch = torch
        return self._torch

    def unavailable_reason(self) -> str | None:
        try:
            self.torch  # noqa: B018 - the import is the check
        except ImportError:
            return "torch not installed"
        return None

    def devices(self) -> list[str]:
        torch = self.torch
        found = ["cpu"]
        if torch.cuda.is_available():
            found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            found.append("mps")
        xpu = getattr(torch, "xpu", None)
        if xpu is not None and xpu.is_available():
            found += [f"xpu:{i}" for i in range(xpu.device_count())]
        return found

    def device_kind(self, device: str) -> str:
        return "cpu" if device == "cpu" else "gpu"

    def unsupported_reason(self, device: str, dtype: str, op: str = "matmul") -> str | None:
        if dtype not in _TORCH_DTYPES:
            return f"unknown dtype {dtype!r}"
        kind = device.split(":")[0]
        if op != "matmul":
            if dtype in ("tf32", "fp8"):
                return f"{dtype} is benchmarked only as a matmul mode, not for {op}"
            if kind == "mps" and dtype == "fp64":
                return _MPS_UNSUPPORTED["fp64"]
            return None
        if kind == "cpu":
            return _CPU_UNSUPPORTED.get(dtype)
        if kind == "cuda":
            return self._cuda_unsupported(_index(device), dtype)
        if kind == "mps":
            return _MPS_UNSUPPORTED.get(dtype)
        if kind == "xpu":
            if dtype == "fp64" and not getattr(self.torch.xpu.get_device_properties(_index(device)), "has_fp64", True):
                return f"{device} has no float64 support (get_device_properties().has_fp64 is False)"
            return _XPU_UNSUPPORTED.get(dtype)
        return f"torch device {device!r} is not benchmarked"

    def random(self, shape: tuple[int, ...], dtype: str, device: str, seed: int) -> Any:
        torch = self.torch
        gen_device = device if device.split(":")[0] in ("cpu", "cuda") else "cpu"
        gen = torch.Generator(device=gen_device).manual_seed(seed)
        x = torch.randn(shape, generator=gen, device=gen_device, dtype=torch.float32)
        return x.to(device=device, dtype=getattr(torch, _TORCH_DTYPES[dtype]))

    def to_numpy64(self, x: Any) -> Any:
        torch = self.torch
        return x.detach().to("cpu").to(torch.float64).numpy()

    def clock(self, device: str) -> Clock:
        torch = self.torch
        kind = device.split(":")[0]
        if kind == "cuda":
            return CudaEventClock(torch)
        if kind == "mps":
            return WallClock(sync=lambda outs: torch.mps.synchronize(), name="perf_counter+mps.synchronize")
        if kind == "xpu":
            return WallClock(sync=lambda outs: torch.xpu.synchronize(), name="perf_counter+xpu.synchronize")
        return WallClock()

    def env(self, device: str) -> dict[str, Any]:
        torch = self.torch
        out: dict[str, Any] = {
            "torch_version": torch.__version__,
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "cuda_version": torch.version.cuda,
            "hip_version": self._hip(),
        }
        kind = device.split(":")[0]
        if kind == "cpu":
            out.update(_cpu_env(torch))
        elif kind == "cuda":
            i = _index(device)
            matmul = torch.backends.cuda.matmul
            out.update({
                "device_name": torch.cuda.get_device_name(i),
                "compute_capability": "{}.{}".format(*self._capability(i)),
                "allow_tf32": bool(matmul.allow_tf32),
                "fp32_precision": getattr(matmul, "fp32_precision", None),
                "float32_matmul_precision": torch.get_float32_matmul_precision(),
                "fp16_reduced_precision_reduction": bool(matmul.allow_fp16_reduced_precision_reduction),
                "bf16_reduced_precision_reduction": bool(matmul.allow_bf16_reduced_precision_reduction),
            })
        elif kind == "xpu":
            out["device_name"] = torch.xpu.get_device_name(_index(device))
        return out

    def sync(self, device: str) -> None:
        kind = device.split(":")[0]
        if kind == "cuda":
            self.torch.cuda.synchronize(_index(device))
        elif kind == "mps":
            self.torch.mps.synchronize()
        elif kind == "xpu":
            self.torch.xpu.synchronize(_index(device))

    # -- beyond the contract: what the matmul suite needs ----------------------------------------

    @contextmanager
    def threads(self, n: int | None) -> Iterator[dict[str, Any]]:
        """torch.set_num_threads(n) until the block ends (None: leave torch's default)."""
        torch = self.torch
        before = torch.get_num_threads()
        if n is not None:
            torch.set_num_threads(n)
        try:
            yield {"threads_requested": n, "threads_pinned_with": "torch.set_num_threads" if n else None}
        finally:
            torch.set_num_threads(before)

    def matmul_inputs(self, m: int, n: int, k: int, dtype: str, device: str, seed: int) -> tuple[Any, Any]:
        a = self.random((m, k), dtype, device, seed)
        b = self.random((k, n), dtype, device, seed + 1)
        if dtype == "fp8":
            b = b.t().contiguous().t()  # torch._scaled_mm wants the second operand column-major
        return a, b

    def matmul_shape_reason(self, m: int, n: int, k: int, dtype: str) -> str | None:
        """Shapes a kernel cannot take: torch._scaled_mm (fp8) needs every dimension divisible by 16."""
        if dtype == "fp8" and any(d % 16 for d in (m, n, k)):
            return f"fp8 torch._scaled_mm needs m, n, k divisible by 16; got {m}x{n}x{k}"
        return None

    def matmul_kernel(self, device: str, dtype: str, a: Any, b: Any) -> MatmulKernel:
        torch = self.torch
        kind = device.split(":")[0]
        env: dict[str, Any] = {}
        contexts: list[Callable[[], AbstractContextManager[Any]]] = []
        if kind == "cuda":
            index = _index(device)
            contexts.append(lambda: torch.cuda.device(index))
            if dtype in ("fp32", "tf32"):
                allow = dtype == "tf32"
                contexts.append(lambda: _tf32_allowed(torch, allow))
                env["allow_tf32"] = allow
        if dtype == "fp8":
            scale_a = torch.ones((), dtype=torch.float32, device=a.device)
            scale_b = torch.ones((), dtype=torch.float32, device=a.device)
            env.update({"op": "torch._scaled_mm", "fp8_format": "e4m3fn", "out_dtype": "bf16",
                        "scales": "per-tensor, 1.0", "use_fast_accum": False})

            def fn(x: Any, y: Any) -> Any:
                out = torch._scaled_mm(x, y, scale_a=scale_a, scale_b=scale_b, out_dtype=torch.bfloat16)
                return out[0] if isinstance(out, tuple) else out  # torch < 2.4 also returned amax
        else:
            fn = torch.matmul
            env["op"] = "torch.matmul"
        if kind == "cpu" and dtype in ("fp32", "bf16", "fp16"):
            env["onednn_impl"] = self.onednn_matmul_impl(dtype)

        @contextmanager
        def context() -> Iterator[None]:
            with ExitStack() as stack:
                for make in contexts:
                    stack.enter_context(make())
                yield

        return MatmulKernel(fn=fn, env=env, context=context if contexts else nullcontext)

    def onednn_matmul_impl(self, dtype: str) -> str | None:
        """Which oneDNN kernel a small CPU matmul in `dtype` ran (e.g. "brg_matmul:avx512_core_bf16").

        Read from oneDNN's verbose log of one 64x64 matmul; "not oneDNN" when torch sent it elsewhere
        (MKL or its own loop); None when the log could not be read.
        """
        if dtype not in self._onednn_impl:
            self._onednn_impl[dtype] = _onednn_impl(self.torch, dtype)
        return self._onednn_impl[dtype]

    def free_memory_bytes(self, device: str) -> int | None:
        torch = self.torch
        kind = device.split(":")[0]
        if kind == "cuda":
            i = _index(device)
            free, _total = torch.cuda.mem_get_info(i)
            return int(free + torch.cuda.memory_reserved(i) - torch.cuda.memory_allocated(i))
        if kind == "mps" and hasattr(torch.mps, "recommended_max_memory"):
            return int(torch.mps.recommended_max_memory() - torch.mps.current_allocated_memory())
        if kind == "xpu" and hasattr(torch.xpu, "mem_get_info"):
            return int(torch.xpu.mem_get_info(_index(device))[0])
        return None

    def release(self, device: str) -> None:
        torch = self.torch
        kind = device.split(":")[0]
        if kind == "cuda":
            torch.cuda.empty_cache()
        elif kind == "mps":
            torch.mps.empty_cache()
        elif kind == "xpu":
            torch.xpu.empty_cache()

    # -- beyond the contract: what the memory suite times ----------------------------------------

    def stream_kernel(self, kernel: Any, arrays: dict[str, Any], scalar: float) -> Built:
        """torch ops writing with `out=` (copy_ for copy); triad is one fused torch.add(b, c, alpha=s)."""
        torch = self.torch
        s = scalar
        a, b, c = arrays["a"], arrays["b"], arrays["c"]

        def renew() -> None:
            nonlocal a, b, c
            fresh_buffers(arrays, (*kernel.inputs, kernel.output), lambda x: x.clone())
            a, b, c = arrays["a"], arrays["b"], arrays["c"]

        if kernel.name == "copy":
            return Built(lambda i: c.copy_(a), "c.copy_(a)", renew=renew)
        if kernel.name == "scale":
            return Built(lambda i: torch.mul(c, s, out=b), "torch.mul(c, s, out=b)", renew=renew)
        if kernel.name == "add":
            return Built(lambda i: torch.add(a, b, out=c), "torch.add(a, b, out=c)", renew=renew)
        return Built(lambda i: torch.add(b, c, alpha=s, out=a), "torch.add(b, c, alpha=s, out=a)", renew=renew)

    def dispatch_call(self, a: Any, b: Any, c: Any) -> Built:
        torch = self.torch
        return Built(lambda i: torch.add(a, b, out=c), "torch.add(a, b, out=c)")

    def memory_env(self, device: str) -> dict[str, Any]:
        env = dict(self.env(device))
        if self.device_kind(device) == "cpu":
            env["torch_threads"] = self.torch.get_num_threads()
        return env

    def threading_note(self, device: str, threads: int) -> str | None:
        if self.device_kind(device) != "cpu":
            return None
        return f"torch CPU ops run on torch.get_num_threads() threads (set to {threads})"

    def elementwise_threads(self, n: int) -> AbstractContextManager[Any]:
        """torch.set_num_threads(n) until the block ends (restored after)."""
        return self.threads(n)

    def on_device(self, device: str) -> AbstractContextManager[Any]:
        """torch.cuda.device for CUDA (CUDA events and ops with no device go to the current device)."""
        if device.startswith("cuda"):
            return self.torch.cuda.device(self.torch.device(device))
        return nullcontext()

    def total_memory_bytes(self, device: str) -> int | None:
        torch = self.torch
        kind = device.split(":")[0]
        try:
            if kind == "cuda":
                return int(torch.cuda.mem_get_info(torch.device(device))[1])
            if kind == "xpu":
                return int(torch.xpu.get_device_properties(torch.device(device)).total_memory)
            if kind == "mps":
                return int(torch.mps.recommended_max_memory())
        except Exception:  # noqa: BLE001 - unknown memory only means no cap
            return None
        return None

    def transfer_unsupported(self, direction: str, memory: str) -> str | None:
        return None

    def host_transfer(self, direction: str, memory: str, n: int, dtype: str, device: str, seed: int
                      ) -> HostTransfer:
        """dst.copy_(src) (non_blocking from pinned memory); pinned host memory comes from pin_memory()."""
        torch = self.torch
        pinned = memory == "pinned"
        host = self.random((n,), dtype, "cpu", seed)
        if pinned:
            try:
                host = host.pin_memory()
            except RuntimeError as exc:  # e.g. no pinned memory for this device type
                raise NotMeasured(f"pinned host memory unavailable: {exc}") from exc
        dev = torch.empty_like(host, device=device)
        if direction == "host_to_device":
            src, dst = host, dev
        else:
            dev.copy_(host)
            src, dst = dev, torch.empty(host.shape, dtype=host.dtype, pin_memory=pinned)
        call = (lambda i: dst.copy_(src, non_blocking=True)) if pinned else (lambda i: dst.copy_(src))
        api = "dst.copy_(src, non_blocking=True)" if pinned else "dst.copy_(src)"
        call(0)
        self.sync(device)
        return HostTransfer(Built(call, api), bool(torch.equal(dst.cpu(), src.cpu())))

    # -- internals -----------------------------------------------------------------------------

    def _capability(self, index: int) -> tuple[int, int]:
        if self._capability_fn is not None:
            return tuple(self._capability_fn(index))  # type: ignore[return-value]
        return tuple(self.torch.cuda.get_device_capability(index))  # type: ignore[return-value]

    def _hip(self) -> str | None:
        if self._hip_override is not False:
            return self._hip_override  # type: ignore[return-value]
        return getattr(self.torch.version, "hip", None)

    def _cuda_unsupported(self, index: int, dtype: str) -> str | None:
        hip = self._hip()
        if hip:
            if dtype == "tf32":
                return f"tf32 is not benchmarked on ROCm (HIP {hip}): not every ROCm GEMM path honours allow_tf32"
            if dtype == "fp8":
                return f"fp8 is not benchmarked on ROCm (HIP {hip}): MI300 uses float8_e4m3fnuz, not implemented here"
            return None
        cc = self._capability(index)
        name = f"cuda:{index} (compute capability {cc[0]}.{cc[1]})"
        if dtype in ("tf32", "bf16") and cc < TF32_MIN_CC:
            return f"{dtype} tensor cores need compute capability >= 8.0; {name}"
        if dtype == "fp8":
            if cc < FP8_MIN_CC:
                return f"fp8 (e4m3) tensor cores need compute capability >= 8.9; {name}"
            if not (hasattr(self.torch, "_scaled_mm") and hasattr(self.torch, "float8_e4m3fn")):
                return f"torch {self.torch.__version__} has no torch._scaled_mm / float8_e4m3fn"
        return None


_CPU_UNSUPPORTED = {
    "tf32": "tf32 is a GPU tensor-core mode; torch on the CPU computes fp32",
    "fp8": "fp8 matmul is benchmarked only on CUDA (compute capability >= 8.9) via torch._scaled_mm",
}
_MPS_UNSUPPORTED = {
    "fp64": "MPS does not support float64",
    "tf32": "tf32 is a CUDA tensor-core mode; not on MPS",
    "fp8": "fp8 matmul is benchmarked only on CUDA (compute capability >= 8.9) via torch._scaled_mm",
}
_XPU_UNSUPPORTED = {
    "tf32": "tf32 is benchmarked only on CUDA devices",
    "fp8": "fp8 matmul is benchmarked only on CUDA (compute capability >= 8.9) via torch._scaled_mm",
}


def _index(device: str) -> int:
    _, _, idx = device.partition(":")
    return int(idx) if idx else 0


@contextmanager
def _tf32_allowed(torch: Any, allow: bool) -> Iterator[None]:
    """Set torch.backends.cuda.matmul.allow_tf32 for one benchmark and restore both flag spellings after."""
    matmul = torch.backends.cuda.matmul
    before_allow = matmul.allow_tf32
    before_precision = getattr(matmul, "fp32_precision", None)
    matmul.allow_tf32 = allow
    try:
        yield
    finally:
        matmul.allow_tf32 = before_allow
        if before_precision is not None:
            try:
                matmul.fp32_precision = before_precision
            except (RuntimeError, ValueError, AttributeError):
                pass


def _cpu_env(torch: Any) -> dict[str, Any]:
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "mkldnn_enabled": bool(torch.backends.mkldnn.enabled),
        "mkl_available": torch.backends.mkl.is_available(),
        "cpu_bf16_fp16_isa": _cpu_flags(_CPU_BF16_FLAGS),
    }


def _cpu_flags(wanted: tuple[str, ...]) -> list[str] | None:
    """Which of `wanted` /proc/cpuinfo lists (Linux); None where it cannot be read."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [f for f in wanted if f in have]
    except OSError:
        return None
    return None


def _onednn_impl(torch: Any, dtype: str) -> str | None:
    """Run one 64x64 matmul with oneDNN verbose on, capturing file descriptor 1, and parse the kernel name."""
    mkldnn = torch.backends.mkldnn
    if not (mkldnn.is_available() and hasattr(mkldnn, "verbose")):
        return None
    tdtype = getattr(torch, _TORCH_DTYPES[dtype])
    a = torch.randn(64, 64).to(tdtype)
    b = torch.randn(64, 64).to(tdtype)
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with tempfile.TemporaryFile(mode="w+b") as tmp:
            os.dup2(tmp.fileno(), 1)
            try:
                with mkldnn.verbose(mkldnn.VERBOSE_ON):
                    torch.matmul(a, b)
            finally:
                os.dup2(saved, 1)
            tmp.seek(0)
            log = tmp.read().decode(errors="replace")
    except (OSError, RuntimeError):
        return None
    finally:
        os.close(saved)
    for line in log.splitlines():
        parts = line.split(",")
        if "primitive" in parts and "exec" in parts and "matmul" in parts:
            i = parts.index("matmul")
            return parts[i + 1] if i + 1 < len(parts) else None
    return "not oneDNN (torch used MKL/BLAS or its own kernel)"
