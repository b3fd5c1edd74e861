"""STREAM bandwidth: copy, scale, add and triad on arrays large enough that DRAM, not cache, is measured.

Bandwidth is counted the STREAM way (bytes read + bytes written by the kernel, no write-allocate
traffic), on arrays at least 4x the last-level cache. Every kernel writes into an existing array (`out=`,
`copy_`, or a donated buffer under jax), so no allocation is timed, and every kernel's output is checked
once against a float64 numpy reference before it is timed. On the CPU each timed round gets freshly
allocated copies of its arrays (untimed): bandwidth depends on where a large array's pages land, which
is fixed for one allocation, so without this every round of one process shares one placement and two
runs differ by more than their rounds show (25-55% between processes on a KVM guest with rounds within
a few %). The kernels themselves are the backend's (`Backend.stream_kernel`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .memory_context import Context, guarded, is_oom, rel_error, release, time_checked
from .memory_plan import ITEMSIZE, SUITE, TOLERANCE
from .result import BenchResult

STREAM_SCALAR = 3.0  # STREAM's `scalar`
COUNTING = "STREAM convention: read + written, no write-allocate"
CHECK_MAX_ELEMENTS = 1 << 20  # the check reads every k-th element so that it stays cheap at any size


@dataclass(frozen=True)
class StreamKernel:
    """One STREAM kernel: which arrays it reads and which it writes (decides the bytes it moves)."""

    name: str
    output: str
    inputs: tuple[str, ...]
    formula: str

    def bytes_moved(self, n: int, itemsize: int) -> dict[str, int]:
        """Bytes one call moves under the STREAM convention (read + written, no write-allocate)."""
        read = len(self.inputs) * n * itemsize
        written = n * itemsize
        return {"bytes": read + written, "bytes_read": read, "bytes_written": written}

    def reference(self, inputs: dict[str, np.ndarray], scalar: float = STREAM_SCALAR) -> np.ndarray:
        """The kernel in float64 numpy, from float64 copies of its inputs."""
        if self.name == "copy":
            return inputs["a"].copy()
        if self.name == "scale":
            return scalar * inputs["c"]
        if self.name == "add":
            return inputs["a"] + inputs["b"]
        if self.name == "triad":
            return inputs["b"] + scalar * inputs["c"]
        raise ValueError(f"unknown STREAM kernel {self.name!r}")


KERNELS: dict[str, StreamKernel] = {
    "copy": StreamKernel("copy", "c", ("a",), "c = a"),
    "scale": StreamKernel("scale", "b", ("c",), "b = s*c"),
    "add": StreamKernel("add", "c", ("a", "b"), "c = a + b"),
    "triad": StreamKernel("triad", "a", ("b", "c"), "a = b + s*c"),
}


def check_kernel(ctx: Context, kernel: StreamKernel, arrays: dict[str, Any], dtype: str, n: int) -> dict[str, Any]:
    """Output of one call vs float64 numpy on every k-th element (all of them up to CHECK_MAX_ELEMENTS)."""
    step = max(1, -(-n // CHECK_MAX_ELEMENTS))
    ins = {name: np.asarray(ctx.backend.to_numpy64(arrays[name][::step]), dtype=np.float64)
           for name in kernel.inputs}
    out = np.asarray(ctx.backend.to_numpy64(arrays[kernel.output][::step]), dtype=np.float64)
    ref = kernel.reference(ins)
    if kernel.name == "copy":
        err = 0.0 if out.shape == ref.shape and np.array_equal(out, ref) else math.inf
        tol = 0.0
    else:
        err, tol = rel_error(out, ref), TOLERANCE[dtype]
    every = "every element" if step == 1 else f"every {step}-th element"
    return {"rel_error": err, "tolerance": tol, "passed": bool(err <= tol),
            "reference": f"float64 numpy {kernel.formula} on {every} ({out.size} values)"
                         + (", exact match required" if kernel.name == "copy" else "")}


def stream_arrays(ctx: Context, device: str, dtype: str, n: int, seed: int) -> dict[str, Any]:
    return {name: ctx.backend.random((n,), dtype, device, seed + i) for i, name in enumerate("abc")}


def kernel_result(ctx: Context, kernel: StreamKernel, arrays: dict[str, Any], *, name: str, device: str,
                  dtype: str, n: int, params: dict[str, Any], extra: dict[str, Any],
                  fresh_buffers: bool = False) -> BenchResult:
    """Build the backend's kernel, run it once, check it, and time it if the check passed."""
    built = ctx.backend.stream_kernel(kernel, arrays, STREAM_SCALAR)
    built.call(0)
    ctx.backend.sync(device)
    check = check_kernel(ctx, kernel, arrays, dtype, n)
    moved = kernel.bytes_moved(n, ITEMSIZE[dtype])
    extra = {"kernel": kernel.formula, "scalar": STREAM_SCALAR, "n": n, "bytes_read": moved["bytes_read"],
             "bytes_written": moved["bytes_written"], "counting": COUNTING, "framework_calls": built.calls, **extra}
    return time_checked(ctx, name=name, device=device, dtype=dtype, params=params, built=built, check=check,
                        work={"bytes": moved["bytes"]}, extra=extra, fresh_buffers=fresh_buffers)


def run_stream(ctx: Context, device: str, dtype: str, array_bytes: int, basis: str,
               dtype_note: str | None = None) -> None:
    """copy, scale, add, triad on three arrays of `array_bytes` each."""
    n = array_bytes // ITEMSIZE[dtype]
    params = {"array_bytes": n * ITEMSIZE[dtype]}
    try:
        arrays = stream_arrays(ctx, device, dtype, n, ctx.opts.seed)
    except Exception as exc:  # noqa: BLE001 - no arrays: every kernel is recorded as not run, with why
        reason = f"{type(exc).__name__}: {exc}"[:500]
        for kernel in KERNELS.values():
            ctx.emit(BenchResult(SUITE, kernel.name, ctx.framework, device, dtype, dict(params),
                                 status="oom" if is_oom(exc) else "failed", reason=reason))
        return
    extra: dict[str, Any] = {"array_size_basis": basis}
    if dtype_note:
        extra["dtype_note"] = dtype_note
    on_accelerator = ctx.backend.device_kind(device) != "cpu"
    for kernel in KERNELS.values():
        kernel_extra = {**extra, "device_to_device_copy": True} if on_accelerator and kernel.name == "copy" else extra
        guarded(ctx, kernel.name, device, dtype, params,
                lambda k=kernel, arr=arrays, x=kernel_extra: kernel_result(
                    ctx, k, arr, name=k.name, device=device, dtype=dtype, n=n, params=params, extra=x,
                    fresh_buffers=not on_accelerator))
    del arrays
    release(ctx, device)
