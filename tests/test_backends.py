"""The numpy, torch and jax backends on this machine's CPU, and the torch CUDA rules with an injected capability."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from infrabench.suites.backends import BACKENDS, MatmulKernel, get_backend
from infrabench.suites.backends.base import Backend
from infrabench.suites.timing import CudaEventClock

# Makes `import <name>` fail, as on a machine without that framework installed.
_BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == {name!r} or name.startswith({name!r} + "."):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, _Block())
"""


def _python(code: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_get_backend_names_and_unknown():
    assert BACKENDS == ("numpy", "torch", "jax")
    for name in BACKENDS:
        backend = get_backend(name)
        assert isinstance(backend, Backend) and backend.name == name
    with pytest.raises(ValueError, match="unknown backend"):
        get_backend("tensorflow")


def test_backend_modules_do_not_import_frameworks():
    out = _python(
        "import sys\n"
        "from infrabench.suites.backends import get_backend\n"
        "import infrabench.suites.backends.torch_backend, infrabench.suites.backends.jax_backend\n"
        "get_backend('torch'); get_backend('jax')\n"
        "print('torch' in sys.modules, 'jax' in sys.modules)"
    )
    assert out == "False False"


@pytest.mark.parametrize("name", ["jax", "torch"])
def test_missing_framework_is_a_clean_reason(name):
    code = f"from infrabench.suites.backends import get_backend\nprint(get_backend({name!r}).unavailable_reason())"
    out = _python(_BLOCK.format(name=name) + code)
    assert out == f"{name} not installed"


def test_numpy_backend_cpu_dtypes_and_random():
    b = get_backend("numpy")
    assert b.unavailable_reason() is None
    assert b.devices() == ["cpu"] and b.device_kind("cpu") == "cpu"
    assert b.unsupported_reason("cpu", "fp32") is None and b.unsupported_reason("cpu", "fp64") is None
    for dtype in ("fp16", "bf16", "tf32", "fp8"):
        assert b.unsupported_reason("cpu", dtype)
    x = b.random((128, 64), "fp32", "cpu", seed=1)
    assert x.dtype == np.float32 and x.shape == (128, 64) and x.std() > 0.5
    assert b.to_numpy64(x).dtype == np.float64
    assert b.clock("cpu").name == "perf_counter"
    # fp16 has no BLAS matmul, but is a real storage dtype for other ops (memory bandwidth)
    assert b.unsupported_reason("cpu", "fp16", "memory") is None
    assert b.random((8,), "fp16", "cpu", 0).dtype == np.float16


def test_dtype_rules_depend_on_the_op():
    pytest.importorskip("torch")
    torch_b = get_backend("torch")
    assert torch_b.unsupported_reason("cpu", "tf32", "memory") and torch_b.unsupported_reason("cpu", "fp8", "memory")
    assert torch_b.unsupported_reason("cpu", "bf16", "memory") is None


def test_numpy_threads_pinned_and_recorded():
    from threadpoolctl import threadpool_info

    b = get_backend("numpy")
    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    with b.threads(1) as pinned:
        assert pinned["threads_requested"] == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
        env = b.env("cpu")
        assert env["threads"] == 1
        assert env["blas"][0]["internal_api"] and env["blas"][0]["version"]
        assert "architecture" in env["blas"][0]
    assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] == before


def test_torch_backend_cpu():
    torch = pytest.importorskip("torch")
    b = get_backend("torch")
    assert "cpu" in b.devices() and b.device_kind("cpu") == "cpu"
    for dtype in ("fp64", "fp32", "bf16", "fp16"):
        assert b.unsupported_reason("cpu", dtype) is None
    assert "tf32" in b.unsupported_reason("cpu", "tf32")
    assert "CUDA" in b.unsupported_reason("cpu", "fp8")
    x = b.random((64, 32), "bf16", "cpu", seed=3)
    assert x.dtype == torch.bfloat16 and b.to_numpy64(x).dtype == np.float64 and b.to_numpy64(x).std() > 0.5
    before = torch.get_num_threads()
    with b.threads(1):
        assert torch.get_num_threads() == 1 and b.env("cpu")["threads"] == 1
    assert torch.get_num_threads() == before
    env = b.env("cpu")
    assert env["cpu_capability"] and "mkldnn_available" in env and env["hip_version"] is None
    assert b.clock("cpu").name == "perf_counter"


def test_torch_cpu_bf16_kernel_names_its_onednn_path():
    pytest.importorskip("torch")
    b = get_backend("torch")
    a, w = b.matmul_inputs(32, 48, 16, "bf16", "cpu", seed=0)
    kernel = b.matmul_kernel("cpu", "bf16", a, w)
    assert isinstance(kernel, MatmulKernel) and kernel.env["op"] == "torch.matmul"
    impl = kernel.env["onednn_impl"]
    assert isinstance(impl, str) and impl  # e.g. "brg_matmul:avx512_core_bf16", or "not oneDNN (...)"
    assert tuple(kernel.fn(a, w).shape) == (32, 48)


def test_torch_cuda_dtype_rules_follow_compute_capability():
    pytest.importorskip("torch")
    from infrabench.suites.backends.torch_backend import TorchBackend

    seen: list[int] = []

    def cc(version: tuple[int, int]):
        def capability(index: int) -> tuple[int, int]:
            seen.append(index)
            return version
        return capability

    turing = TorchBackend(capability=cc((7, 5)), hip_version=None)
    assert "8.0" in turing.unsupported_reason("cuda:1", "tf32") and seen[-1] == 1
    assert "7.5" in turing.unsupported_reason("cuda:0", "bf16")
    assert turing.unsupported_reason("cuda:0", "fp16") is None
    assert turing.unsupported_reason("cuda:0", "fp64") is None
    ampere = TorchBackend(capability=cc((8, 0)), hip_version=None)
    assert ampere.unsupported_reason("cuda:0", "tf32") is None and ampere.unsupported_reason("cuda:0", "bf16") is None
    assert "8.9" in ampere.unsupported_reason("cuda:0", "fp8")
    hopper = TorchBackend(capability=cc((9, 0)), hip_version=None)
    assert hopper.unsupported_reason("cuda:0", "fp8") is None
    rocm = TorchBackend(capability=cc((9, 4)), hip_version="6.2")
    assert "ROCm" in rocm.unsupported_reason("cuda:0", "tf32") and "ROCm" in rocm.unsupported_reason("cuda:0", "fp8")
    assert rocm.unsupported_reason("cuda:0", "bf16") is None
    assert "float64" in TorchBackend().unsupported_reason("mps", "fp64")
    assert isinstance(hopper.clock("cuda:0"), CudaEventClock)
    assert "16" in hopper.matmul_shape_reason(1000, 1000, 1000, "fp8")
    assert hopper.matmul_shape_reason(1024, 4096, 1024, "fp8") is None
    assert hopper.matmul_shape_reason(1000, 1000, 1000, "bf16") is None


def test_torch_tf32_flag_set_for_one_benchmark_and_restored():
    torch = pytest.importorskip("torch")
    from infrabench.suites.backends.torch_backend import _tf32_allowed

    matmul = torch.backends.cuda.matmul
    before = (matmul.allow_tf32, getattr(matmul, "fp32_precision", None))
    with _tf32_allowed(torch, True):
        assert matmul.allow_tf32 is True
    assert (matmul.allow_tf32, getattr(matmul, "fp32_precision", None)) == before
    with _tf32_allowed(torch, False):
        assert matmul.allow_tf32 is False
    assert (matmul.allow_tf32, getattr(matmul, "fp32_precision", None)) == before


def test_torch_fp8_kernel_path_runs_where_scaled_mm_exists():
    """The CUDA fp8 kernel (column-major e4m3 operand, unit scales, bf16 out), run on torch's CPU _scaled_mm."""
    torch = pytest.importorskip("torch")
    b = get_backend("torch")
    a, w = b.matmul_inputs(64, 48, 32, "fp8", "cpu", seed=0)
    assert a.dtype == torch.float8_e4m3fn and w.stride() == (1, 32)  # column-major second operand
    kernel = b.matmul_kernel("cpu", "fp8", a, w)
    assert kernel.env["op"] == "torch._scaled_mm"
    try:
        out = kernel.fn(a, w)
    except (RuntimeError, NotImplementedError) as exc:
        pytest.skip(f"torch._scaled_mm has no CPU kernel in this build: {exc}")
    assert out.dtype == torch.bfloat16
    ref = b.to_numpy64(a) @ b.to_numpy64(w)
    assert np.linalg.norm(b.to_numpy64(out) - ref) / np.linalg.norm(ref) < 1e-2


def test_jax_backend_cpu():
    jax = pytest.importorskip("jax")
    from infrabench.suites.backends.jax_backend import X64_OFF

    b = get_backend("jax")
    assert b.devices()[0] == "cpu:0" and b.device_kind("cpu:0") == "cpu"
    assert not jax.config.jax_enable_x64
    assert b.unsupported_reason("cpu:0", "fp64") == X64_OFF
    assert b.unsupported_reason("cpu:0", "tf32") and b.unsupported_reason("cpu:0", "fp8")
    for dtype in ("fp32", "bf16", "fp16"):
        assert b.unsupported_reason("cpu:0", dtype) is None
    x = b.random((32, 16), "bf16", "cpu:0", seed=0)
    assert str(x.dtype) == "bfloat16" and b.to_numpy64(x).dtype == np.float64
    assert b.clock("cpu:0").name == "perf_counter+block_until_ready"
    env = b.env("cpu:0")
    assert env["jax_enable_x64"] is False and env["cpu_count"] == os.cpu_count() and "XLA_FLAGS" in env


def test_jax_kernel_compiled_once_apart_from_calls():
    pytest.importorskip("jax")
    b = get_backend("jax")
    a, w = b.matmul_inputs(32, 24, 16, "fp32", "cpu:0", seed=0)
    kernel = b.matmul_kernel("cpu:0", "fp32", a, w)
    assert kernel.compile_s is not None and kernel.compile_s > 0
    assert kernel.env["precision"] == "HIGHEST"
    assert type(kernel.fn).__name__ == "Compiled"  # the timed call is the compiled executable, no retracing
    out = kernel.fn(a, w)
    ref = b.to_numpy64(a) @ b.to_numpy64(w)
    assert np.allclose(b.to_numpy64(out), ref, rtol=1e-4, atol=1e-4)


def test_jax_fp64_runs_when_x64_is_on():
    pytest.importorskip("jax")
    out = _python(
        "import numpy as np\n"
        "from infrabench.suites.backends import get_backend\n"
        "b = get_backend('jax')\n"
        "assert b.unsupported_reason('cpu:0', 'fp64') is None\n"
        "a, w = b.matmul_inputs(16, 16, 16, 'fp64', 'cpu:0', 0)\n"
        "k = b.matmul_kernel('cpu:0', 'fp64', a, w)\n"
        "print(a.dtype, float(np.abs(b.to_numpy64(k.fn(a, w)) - b.to_numpy64(a) @ b.to_numpy64(w)).max()))",
        env={"JAX_ENABLE_X64": "1"},
    )
    dtype, err = out.split()
    assert dtype == "float64" and float(err) < 1e-12
