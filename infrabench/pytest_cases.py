"""The tests `pytest --infrabench` adds: one pytest-benchmark test per kernel (see infrabench/pytest_plugin.py).

Collected only by the plugin (the file name does not match pytest's test_*.py pattern). Cases are
listed at collection time without allocating anything; each test builds its inputs, checks nothing
beyond what the suites check, and lets pytest-benchmark time one synchronised call per iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MIB = 1 << 20


@dataclass(frozen=True)
class Case:
    """One kernel to time: `build()` returns a synchronised call and what it does (work for throughput)."""

    id: str
    suite: str
    backend: str
    device: str
    dtype: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def build(self) -> tuple[Callable[[], Any], dict[str, Any]]:
        from infrabench.suites.backends import get_backend

        backend = get_backend(self.backend)
        return (_matmul if self.suite == "matmul" else _stream)(backend, self)


def _synced(backend: Any, device: str, call: Callable[[], Any]) -> Callable[[], Any]:
    """A call that returns only when its work is done (jax: block_until_ready; torch CUDA: synchronize)."""
    clock = backend.clock(device)
    sync = getattr(clock, "sync", None)

    def target() -> Any:
        out = call()
        if sync is not None:
            sync([out])
        else:
            backend.sync(device)
        return out

    return target


def _matmul(backend: Any, case: Case) -> tuple[Callable[[], Any], dict[str, Any]]:
    m, n, k = case.params["m"], case.params["n"], case.params["k"]
    a, b = backend.matmul_inputs(m, n, k, case.dtype, case.device, 0)
    kernel = backend.matmul_kernel(case.device, case.dtype, a, b)
    fn = kernel.fn
    return _synced(backend, case.device, lambda: fn(a, b)), {"flops": 2 * m * n * k}


def _stream(backend: Any, case: Case) -> tuple[Callable[[], Any], dict[str, Any]]:
    from infrabench.suites.memory import ITEMSIZE, KERNEL_BUILDERS, KERNELS, STREAM_SCALAR

    kernel = KERNELS[case.params["kernel"]]
    n = case.params["array_bytes"] // ITEMSIZE[case.dtype]
    arrays = {name: backend.random((n,), case.dtype, case.device, i) for i, name in enumerate("abc")}
    built = KERNEL_BUILDERS[backend.name](kernel, arrays, STREAM_SCALAR)
    return _synced(backend, case.device, lambda: built.call(0)), kernel.bytes_moved(n, ITEMSIZE[case.dtype])


def cases(suites: list[str], backends: list[str], device: str, profile: str, dtypes: list[str] | None,
          array_mib: int) -> list[Case]:
    """Every (suite, backend, dtype, shape) case; dtypes a backend cannot run are left out."""
    from infrabench.suites.backends import DTYPES, get_backend
    from infrabench.suites.matmul import plan_for, shapes_for
    from infrabench.suites.memory import KERNELS

    out: list[Case] = []
    for name in backends:
        backend = get_backend(name)
        if backend.unavailable_reason() is not None:
            continue
        kind = backend.device_kind(device)
        if "matmul" in suites:
            for dtype in dtypes or list(DTYPES):
                if backend.unsupported_reason(device, dtype, "matmul") is not None:
                    continue
                for shape in shapes_for(plan_for(profile, kind)):
                    out.append(Case(f"matmul/{shape.name}[{shape.param_id}]/{name}/{device}/{dtype}", "matmul",
                                    name, device, dtype, {"m": shape.m, "n": shape.n, "k": shape.k}))
        if "memory" in suites:
            for dtype in dtypes or ["fp32"]:
                if backend.unsupported_reason(device, dtype, "memory") is not None:
                    continue
                for kernel in KERNELS:
                    size = array_mib * MIB
                    out.append(Case(f"memory/{kernel}[array_bytes={size}]/{name}/{device}/{dtype}", "memory",
                                    name, device, dtype, {"kernel": kernel, "array_bytes": size}))
    return out


def pytest_generate_tests(metafunc: Any) -> None:
    if "infrabench_case" not in metafunc.fixturenames:
        return
    opt = metafunc.config.getoption

    def split(text: str | None) -> list[str]:
        return [x.strip() for x in (text or "").split(",") if x.strip()]

    found = cases(split(opt("infrabench_suite")), split(opt("infrabench_backend")), opt("infrabench_device"),
                  opt("infrabench_profile"), split(opt("infrabench_dtype")) or None, opt("infrabench_array_mib"))
    metafunc.parametrize("infrabench_case", found, ids=[c.id for c in found])


def test_infrabench(benchmark: Any, infrabench_case: Case) -> None:
    """Time one kernel with pytest-benchmark; its work (FLOP or bytes) goes into extra_info for throughput."""
    target, work = infrabench_case.build()
    target()  # first call outside the timing: lazy init, autotune, compile
    benchmark.group = infrabench_case.id.split("[", 1)[0]
    benchmark.extra_info["infrabench"] = {"suite": infrabench_case.suite, "backend": infrabench_case.backend,
                                          "device": infrabench_case.device, "dtype": infrabench_case.dtype,
                                          "work": work}
    benchmark(target)
