"""Dense matmul throughput per backend, device and dtype: square sweeps and transformer-shaped GEMMs.

Work per call is 2*m*n*k FLOPs. Each (device, dtype) configuration is first checked once against a
float64 numpy reference at 256^3; a wrong result fails every benchmark of that configuration (no
throughput is shown for a kernel that computes the wrong thing). Inputs are random, and rotate over
three input sets when one set fits in the last-level cache. Unsupported combinations are `skipped`
with the reason; a kernel that raises (out of memory on a big size) is `failed`/`oom` and the sweep
goes on. Results are emitted one at a time as they finish.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from infrabench.probes.machine_view import MachineView

from .backends import MatmulKernel
from .backends.base import DTYPES, Backend
from .options import Emit, SuiteOptions
from .result import BenchResult
from .timing import Timing, TimingConfig, measure

log = logging.getLogger(__name__)

SUITE = "matmul"
CHECK_SIZE = 256

# Relative Frobenius error allowed vs float64 computed from the same (already rounded) inputs.
# tf32: the kernel rounds fp32 inputs to 10 mantissa bits itself; emulated at 256^3 on random normal
# inputs that gives 2.9e-4 (round to nearest) and 7.7e-4 (truncation, as tensor cores may do), so the
# ~1e-3 of measurement.md leaves no margin and 5e-3 is used. fp8: inputs are e4m3 already (the
# reference uses those values), the product is written as bf16 (~1.7e-3 from output rounding): 1e-2.
TOLERANCES: dict[str, float] = {"fp64": 1e-5, "fp32": 1e-3, "tf32": 5e-3, "bf16": 1e-2, "fp16": 1e-2, "fp8": 1e-2}

ITEM_BYTES: dict[str, int] = {"fp64": 8, "fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1}
OUT_BYTES: dict[str, int] = {**ITEM_BYTES, "fp8": 2}  # fp8 products are written as bf16

ROTATE_SETS = 3
UNKNOWN_CACHE_BYTES = 64 * 2**20  # rotate below this when the cache size is unknown (GPU L2)
MEMORY_FRACTION = 0.8  # of free memory a benchmark's inputs and output may use
PREFLIGHT_FRACTION = 8  # a size predicted over max_call_s / 8 gets one timed call before its measurement


@dataclass(frozen=True)
class Shape:
    name: str  # "square" | "transformer" | "search"
    m: int
    n: int
    k: int
    layer: str | None = None  # transformer GEMMs: qkv, attn_out, mlp_up, mlp_down
    tokens: int | None = None
    d_model: int | None = None

    @property
    def params(self) -> dict[str, Any]:
        base: dict[str, Any] = {"layer": self.layer} if self.layer else {}
        return {**base, "m": self.m, "n": self.n, "k": self.k}

    @property
    def param_id(self) -> str:
        return "-".join(f"{k}={v}" for k, v in self.params.items())

    @property
    def flops(self) -> int:
        return 2 * self.m * self.n * self.k


@dataclass(frozen=True)
class Plan:
    """What one profile runs on one kind of device."""

    squares: tuple[int, ...]
    transformers: tuple[tuple[int, int, str], ...]  # (tokens, d_model, layer or "all")
    timing: TimingConfig
    # Per-call limit: a size whose call, predicted from the previous size's rate, is longer is skipped with the
    # estimate; a size near the limit gets one timed call first and is skipped if that call is over it.
    max_call_s: float
    search: bool = False


_CPU_PLANS: dict[str, Plan] = {
    # 8 rounds (budget for them at 2048^3 fp64, ~0.2 s a call here): 5 vs 5 rounds cannot give a rank-test p
    # small enough to pass a Holm correction over a whole run, so a quick run could never flag a matmul.
    # Rounds of >= 10 ms and 0.15 s of warm-up: with 1 ms rounds and 50 ms of warm-up a 256^3 matmul's eight
    # rounds spanned ~10 ms just after start-up, and its median moved 1.5-2x from one process to the next on a
    # 2-vCPU guest (rounds of 10 ms after 0.5 s: within 1%, numpy fp32).
    "quick": Plan((256, 1024, 2048), ((512, 1024, "mlp_up"),),
                  TimingConfig(warmup_s=0.15, min_sample_s=1e-2, rounds=8, budget_s=2.5), max_call_s=2.0),
    "standard": Plan((256, 512, 1000, 1024, 2048, 3000, 4096), ((512, 1024, "all"), (2048, 1024, "all")),
                     TimingConfig(warmup_s=0.2, min_sample_s=1e-3, rounds=10, budget_s=5.0), max_call_s=20.0),
    "full": Plan((128, 256, 384, 512, 768, 1000, 1024, 1536, 2048, 3000, 3072, 4096, 6144, 8192),
                 ((512, 1024, "all"), (2048, 1024, "all"), (4096, 1024, "all"), (2048, 4096, "all")),
                 TimingConfig(warmup_s=1.0, min_sample_s=2e-3, rounds=20, budget_s=15.0), max_call_s=120.0,
                 search=True),
}
_ACCEL_PLANS: dict[str, Plan] = {
    "quick": Plan((1024, 4096, 8192), ((2048, 4096, "mlp_up"),),
                  TimingConfig(warmup_s=0.1, min_sample_s=1e-3, rounds=8, budget_s=2.5), max_call_s=2.0),
    "standard": Plan((256, 512, 1024, 2048, 3000, 4096, 6144, 8192, 10000, 12288, 16384),
                     ((2048, 4096, "all"), (4096, 4096, "all")),
                     TimingConfig(warmup_s=0.5, min_sample_s=1e-3, rounds=10, budget_s=5.0), max_call_s=20.0),
    "full": Plan((256, 512, 768, 1024, 1536, 2048, 3000, 3072, 4096, 5120, 6144, 7168, 8192, 10000, 10240,
                  12288, 14336, 16384, 20480),
                 ((1024, 4096, "all"), (2048, 4096, "all"), (4096, 4096, "all"), (8192, 4096, "all"),
                  (4096, 8192, "all")),
                 TimingConfig(warmup_s=2.0, min_sample_s=2e-3, rounds=20, budget_s=15.0), max_call_s=120.0,
                 search=True),
}

LAYERS = ("qkv", "attn_out", "mlp_up", "mlp_down")


def transformer_shapes(tokens: int, d_model: int, layers: tuple[str, ...] = LAYERS) -> list[Shape]:
    """The GEMMs of one transformer block (MLP width 4*d_model): activations (tokens x k) @ weights (k x n)."""
    dims = {"qkv": (3 * d_model, d_model), "attn_out": (d_model, d_model),
            "mlp_up": (4 * d_model, d_model), "mlp_down": (d_model, 4 * d_model)}
    return [Shape("transformer", tokens, dims[layer][0], dims[layer][1], layer, tokens, d_model) for layer in layers]


def plan_for(profile: str, device_kind: str) -> Plan:
    return (_CPU_PLANS if device_kind == "cpu" else _ACCEL_PLANS)[profile]


def shapes_for(plan: Plan) -> list[Shape]:
    shapes = [Shape("square", s, s, s) for s in plan.squares]
    for tokens, d_model, layer in plan.transformers:
        shapes += transformer_shapes(tokens, d_model, LAYERS if layer == "all" else (layer,))
    return shapes


def search_sizes(best: int, measured: set[int], device_kind: str) -> list[int]:
    """Square sizes around the best one, for the "max achievable" search (multiples of 64 / 256)."""
    step = 64 if device_kind == "cpu" else 256
    sizes = {max(step, round(best * f / step) * step) for f in (0.75, 0.875, 1.125, 1.25, 1.5)}
    return sorted(sizes - measured)


def run_suite(backend: Backend, opts: SuiteOptions, emit: Emit, shapes: list[Shape] | None = None) -> None:
    """Run the matmul suite on every wanted device and dtype of `backend`, emitting each result as it ends.

    `shapes` replaces the profile's shapes (benches and tests); the profile still sets timing and limits.
    """
    threads = MachineView(opts.machine).usable_cpus(opts.threads)
    with _threads(backend, threads) as thread_env:
        for device in backend.devices():
            if not opts.wants_device(device):
                continue
            dtypes = list(DTYPES) if opts.dtypes is None else list(opts.dtypes)
            for dtype in dtypes:
                _run_config(backend, device, dtype, opts, emit, thread_env, shapes)


@dataclass
class _Config:
    """One (backend, device, dtype): its check, its env, what was measured so far."""

    backend: Backend
    device: str
    dtype: str
    kind: str
    plan: Plan
    check: dict[str, Any] | None = None
    env: dict[str, Any] = field(default_factory=dict)
    rate: tuple[float, str] | None = None  # (FLOP/s at the latest size run, which): call-time estimates
    best_square: tuple[float, int] | None = None

    def result(self, shape: Shape, **kw: Any) -> BenchResult:
        extra = kw.pop("extra", {})
        if shape.layer:
            extra = {"tokens": shape.tokens, "d_model": shape.d_model, **extra}
        return BenchResult(SUITE, shape.name, self.backend.name, self.device, self.dtype, shape.params,
                           work={"flops": shape.flops}, check=self.check, extra=extra, **kw)


def _run_config(backend: Backend, device: str, dtype: str, opts: SuiteOptions, emit: Emit,
                thread_env: dict[str, Any], shapes: list[Shape] | None) -> None:
    kind = backend.device_kind(device)
    cfg = _Config(backend, device, dtype, kind, plan_for(opts.profile, kind))
    shapes = shapes_for(cfg.plan) if shapes is None else list(shapes)
    reason = backend.unsupported_reason(device, dtype, "matmul")
    if reason is None and not hasattr(backend, "matmul_kernel"):
        reason = f"backend {backend.name} has no matmul kernel"
    if reason is not None:
        for shape in shapes:
            emit(cfg.result(shape, status="skipped", reason=reason))
        return

    try:
        cfg.check, check_env = _check(backend, device, dtype, opts.seed)
    except Exception as exc:  # noqa: BLE001 - any kernel error becomes a recorded result
        status = "oom" if _is_oom(exc) else "failed"
        why = f"correctness check at {CHECK_SIZE}^3 raised {_describe(exc)}"
        for shape in shapes:
            emit(cfg.result(shape, status=status, reason=why))
        _release(backend, device)
        return
    cfg.env = {**check_env, **thread_env}
    if not cfg.check["passed"]:
        why = (f"wrong result: relative error {cfg.check['rel_error']:.3g} vs tolerance "
               f"{cfg.check['tolerance']:g} ({cfg.check['reference']})")
        for shape in shapes:
            emit(cfg.result(shape, status="failed", reason=why, env=cfg.env))
        return
    for shape in shapes:
        emit(_bench(cfg, shape, opts))
    if cfg.plan.search and cfg.best_square is not None:
        measured = {s.m for s in shapes if s.name == "square"}
        for size in search_sizes(cfg.best_square[1], measured, kind):
            emit(_bench(cfg, Shape("search", size, size, size), opts))


def _check(backend: Any, device: str, dtype: str, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Float64 reference check at CHECK_SIZE^3; also returns the env as the kernel sees it (flags set)."""
    import numpy as np

    s = CHECK_SIZE
    a, b = backend.matmul_inputs(s, s, s, dtype, device, seed)
    kernel = backend.matmul_kernel(device, dtype, a, b)
    with kernel.context():
        out = kernel.fn(a, b)
        backend.sync(device)
        got = backend.to_numpy64(out)
        env = {**backend.env(device), **kernel.env}
    ref = backend.to_numpy64(a) @ backend.to_numpy64(b)
    err = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
    tol = TOLERANCES[dtype]
    check = {"rel_error": err, "tolerance": tol, "passed": bool(np.isfinite(err) and err < tol),
             "reference": f"float64 numpy at {s}^3 from the same inputs"}
    return check, env


def _bench(cfg: _Config, shape: Shape, opts: SuiteOptions) -> BenchResult:
    backend: Any = cfg.backend
    plan = cfg.plan
    shape_reason = getattr(backend, "matmul_shape_reason", None)
    why = shape_reason(shape.m, shape.n, shape.k, cfg.dtype) if shape_reason else None
    if why:
        return cfg.result(shape, status="skipped", env=cfg.env, reason=why)
    predicted = shape.flops / cfg.rate[0] if cfg.rate else None
    if cfg.rate and predicted is not None and predicted > plan.max_call_s:
        return cfg.result(shape, status="skipped", env=cfg.env, reason=(
            f"one call would take ~{predicted:.3g} s (at the {cfg.rate[0] / 1e9:.3g} GFLOP/s of {cfg.rate[1]}), "
            f"over the {opts.profile} profile's {plan.max_call_s:g} s per-call limit"))
    # Near the limit (or with nothing to go on) one call is timed first, and the size skipped if it is too slow.
    preflight = predicted is None or predicted > plan.max_call_s / PREFLIGHT_FRACTION

    item, out_item = ITEM_BYTES[cfg.dtype], OUT_BYTES[cfg.dtype]
    set_bytes = (shape.m * shape.k + shape.k * shape.n) * item + shape.m * shape.n * out_item
    cache_bytes, cache_source = _cache_bytes(opts.machine, cfg.kind)
    sets = ROTATE_SETS if set_bytes < cache_bytes else 1
    need = sets * (shape.m * shape.k + shape.k * shape.n) * item + 2 * shape.m * shape.n * out_item
    free = _free_bytes(backend, cfg.device)
    if free is not None and need > MEMORY_FRACTION * free:
        return cfg.result(shape, status="skipped", env=cfg.env, reason=(
            f"needs {need / 1e9:.3g} GB for inputs and output, {free / 1e9:.3g} GB free on {cfg.device} "
            f"(limit {MEMORY_FRACTION:.0%} of free)"))

    rotation = {"input_sets": sets, "working_set_bytes": set_bytes, "cache_bytes": cache_bytes,
                "cache_source": cache_source}
    try:
        timing, kernel = _time_kernel(backend, cfg, shape, sets, opts.seed, preflight)
    except _TooSlow as slow:
        _release(backend, cfg.device)
        cfg.rate = (shape.flops / slow.seconds, f"{shape.name}[{shape.param_id}] (one call)")
        return cfg.result(shape, status="skipped", env=cfg.env, extra={"rotation": rotation}, reason=(
            f"one call took {slow.seconds:.3g} s ({shape.flops / slow.seconds / 1e9:.3g} GFLOP/s), over the "
            f"{opts.profile} profile's {plan.max_call_s:g} s per-call limit"))
    except Exception as exc:  # noqa: BLE001 - OOM or a kernel error becomes a result; the sweep goes on
        _release(backend, cfg.device)
        status = "oom" if _is_oom(exc) else "failed"
        return cfg.result(shape, status=status, reason=f"{shape.name}[{shape.param_id}] raised {_describe(exc)}",
                          env=cfg.env, extra={"rotation": rotation})
    _release(backend, cfg.device)

    rate = shape.flops / max(min(timing.samples_s), 1e-12)
    cfg.rate = (rate, f"{shape.name}[{shape.param_id}]")
    if shape.name == "square" and (cfg.best_square is None or rate > cfg.best_square[0]):
        cfg.best_square = (rate, shape.m)
    return cfg.result(
        shape, status="ok", samples_s=timing.samples_s, iterations=timing.iterations, warmup_s=timing.warmup_s,
        compile_s=kernel.compile_s, timer=timing.timer, env={**cfg.env, **kernel.env}, timing=timing.settings(),
        extra={"first_call_s": timing.first_call_s, "warmup_calls": timing.warmup_calls,
               "rounds_requested": timing.rounds_requested, "rotation": rotation,
               "notes": timing.notes + kernel.notes})


class _TooSlow(Exception):
    def __init__(self, seconds: float):
        super().__init__(f"one call took {seconds:.3g} s")
        self.seconds = seconds


def _time_kernel(backend: Any, cfg: _Config, shape: Shape, sets: int, seed: int,
                 preflight: bool) -> tuple[Timing, MatmulKernel]:
    """Make `sets` input sets, build the kernel, time it; the inputs are freed when this returns.

    With `preflight`, one call is timed first and _TooSlow raised if it is over the per-call limit.
    """
    inputs = [backend.matmul_inputs(shape.m, shape.n, shape.k, cfg.dtype, cfg.device, seed + 2 * j)
              for j in range(sets)]
    kernel: MatmulKernel = backend.matmul_kernel(cfg.device, cfg.dtype, *inputs[0])
    fn = kernel.fn

    def call(i: int) -> Any:
        a, b = inputs[i % sets]
        return fn(a, b)

    clock = backend.clock(cfg.device)
    with kernel.context():
        if preflight:
            seconds = clock.block(call, 0, 1)
            if seconds > cfg.plan.max_call_s:
                raise _TooSlow(seconds)
        return measure(call, clock, cfg.plan.timing), kernel


@contextmanager
def _threads(backend: Backend, n: int | None) -> Iterator[dict[str, Any]]:
    pin: Any = getattr(backend, "threads", None)
    ctx: AbstractContextManager[Any] = pin(n) if pin is not None else nullcontext({"threads_requested": n})
    with ctx as env:
        yield dict(env or {})


def _cache_bytes(machine: dict[str, Any], kind: str) -> tuple[int, str]:
    """The last-level cache (all instances) from the machine profile; 64 MiB assumed where unknown."""
    if kind == "cpu":
        view = MachineView(machine)
        llc = view.last_level_cache()
        if llc is not None:
            return llc.total_bytes, f"{llc.label} x{llc.instances} from the machine profile"
        return UNKNOWN_CACHE_BYTES, "CPU caches not in the machine profile: 64 MiB assumed"
    return UNKNOWN_CACHE_BYTES, "device cache size unknown here: 64 MiB assumed"


def _free_bytes(backend: Any, device: str) -> int | None:
    free = backend.free_memory_bytes(device) if hasattr(backend, "free_memory_bytes") else None
    if free is None and backend.device_kind(device) == "cpu":
        import psutil

        free = int(psutil.virtual_memory().available)
    return free


def _release(backend: Any, device: str) -> None:
    import gc

    gc.collect()
    if hasattr(backend, "release"):
        try:
            backend.release(device)
        except Exception as exc:  # noqa: BLE001 - freeing cached memory must not end the sweep
            log.debug("release on %s failed: %s", device, exc)


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    return "out of memory" in text or "resource_exhausted" in text or "resource exhausted" in text


def _describe(exc: BaseException, limit: int = 400) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
