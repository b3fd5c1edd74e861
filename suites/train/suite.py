"""The training suite: each model trained for a few steps in each precision on every device of the backend.

numpy trains the MLP (hand-written backward); torch trains every model eagerly and under
torch.compile; jax trains every model under jit. Options come from suite_args["train"]:
  models: ["mlp", "cnn", "gpt"] subset;  modes: torch modes ["eager", "compile"];
  overrides: {model: {config field | warmup | timed | lr: value}} (e.g. lr 0 to prove a failed check);
  profile: the preset size when it differs from the run's (e.g. GPU-size models beside a quick matmul).
Default precisions: fp32 and bf16 on CPUs (bf16 only with native bf16 instructions; the quick profile
runs fp32 only, to stay within a minute or two); tf32 (fp32 weights, tensor-core matmuls, recorded as
tf32) and bf16 on accelerators. `--dtype` picks among them. The quick CPU profile compiles the MLP
only with torch.compile (cold inductor compiles cost tens of seconds per model on a small CPU).
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from infrabench.probes.machine_view import MachineView

from ..backends.base import Backend
from ..options import Emit, SuiteOptions
from ..result import BenchResult
from .data import make_batches
from .flops import step_flops
from .measure import CPU_MEMORY_BASIS, Outcome, cpu_peak_rss_bytes, not_run, run_loop, to_result
from .presets import MODELS, Preset, preset_for

log = logging.getLogger(__name__)

TORCH_MODES = ("eager", "compile")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
NUMPY_ONLY_MLP = "the numpy reference path implements the MLP only (hand-written backward)"


def _train_args(opts: SuiteOptions) -> dict[str, Any]:
    args = opts.suite_args.get("train") or {}
    return args if isinstance(args, dict) else {}


def default_dtypes(kind: str, profile: str) -> tuple[str, ...]:
    """fp32 only in the quick CPU profile (bf16 on request: `--dtype fp32,bf16`), fp32+bf16 otherwise."""
    if kind == "cpu":
        return ("fp32",) if profile == "quick" else ("fp32", "bf16")
    return ("tf32", "bf16")


def cpu_bf16_reason(machine: dict[str, Any]) -> str | None:
    flags = set((machine.get("cpu") or {}).get("isa_flags") or [])
    if flags & set(CPU_BF16_FLAGS):
        return None
    if not flags:
        return "CPU ISA flags unknown: bf16 training runs only where native bf16 instructions are known"
    return f"no native bf16 on this CPU (none of {', '.join(CPU_BF16_FLAGS)}): bf16 would be emulated"


def _dtypes(backend: Backend, device: str, kind: str, opts: SuiteOptions) -> list[tuple[str, str | None]]:
    """(dtype, reason it cannot run or None) for each wanted precision."""
    wanted = list(opts.dtypes) if opts.dtypes is not None else list(default_dtypes(kind, train_profile(opts)))
    out = []
    for dtype in wanted:
        if dtype not in ("fp32", "tf32", "bf16"):
            out.append((dtype, f"training runs in fp32, tf32 or bf16, not {dtype}"))
            continue
        if dtype == "tf32" and kind == "cpu":
            out.append((dtype, "tf32 is a GPU tensor-core mode; the CPU trains in fp32"))
            continue
        why = backend.unsupported_reason(device, "bf16" if dtype == "bf16" else "fp32", "train")
        if why is None and dtype == "tf32":
            why = backend.unsupported_reason(device, "tf32", "matmul")
        if why is None and dtype == "bf16" and kind == "cpu":
            why = cpu_bf16_reason(opts.machine)
        out.append((dtype, why))
    return out


def train_profile(opts: SuiteOptions) -> str:
    """The profile the presets come from: suite_args["train"]["profile"] when given, else the run's."""
    wanted = _train_args(opts).get("profile")
    return wanted if wanted in ("quick", "standard", "full") else opts.profile


def _presets(opts: SuiteOptions, kind: str) -> list[Preset]:
    args = _train_args(opts)
    models = args.get("models") or list(MODELS)
    overrides = args.get("overrides") or {}
    return [preset_for(train_profile(opts), kind, m, overrides.get(m)) for m in models]


def run_suite(backend: Backend, opts: SuiteOptions, emit: Emit) -> None:
    """Train every model in every precision on every wanted device of `backend`, emitting each result."""
    threads = MachineView(opts.machine).usable_cpus(opts.threads)
    with _threads(backend, threads) as thread_env:
        for device in backend.devices():
            if not opts.wants_device(device):
                continue
            kind = backend.device_kind(device)
            dtypes = _dtypes(backend, device, kind, opts)
            if backend.name == "numpy":
                _run_numpy(backend, device, dtypes, opts, emit, thread_env)
            elif backend.name == "torch":
                _run_torch(backend, device, kind, dtypes, opts, emit, thread_env)
            elif backend.name == "jax":
                _run_jax(backend, device, kind, dtypes, opts, emit, thread_env)
            else:
                for preset in _presets(opts, kind):
                    emit(not_run(backend.name, device, "fp32", "-", preset, "skipped",
                                 f"no training models for backend {backend.name}"))


def _guard(emit: Emit, fallback: BenchResult, run: Any) -> None:
    """Emit run()'s result; an exception becomes a failed (or oom) result and the suite goes on."""
    try:
        result = run()
    except Exception as exc:  # noqa: BLE001 - a model that raises is recorded, the next one still runs
        log.exception("training run failed")
        text = f"{type(exc).__name__}: {exc}"
        oom = isinstance(exc, MemoryError) or "out of memory" in text.lower()
        fallback.status, fallback.reason = ("oom" if oom else "failed"), text[:2000]
        result = fallback
    emit(result)
    gc.collect()


# -- numpy --------------------------------------------------------------------------------------------

def _run_numpy(backend: Backend, device: str, dtypes: list[tuple[str, str | None]], opts: SuiteOptions,
               emit: Emit, thread_env: dict[str, Any]) -> None:
    from .models_numpy import NumpyMLPTrainer

    for preset in _presets(opts, "cpu"):
        if preset.model != "mlp":
            emit(not_run("numpy", device, "fp32", "numpy", preset, "skipped", NUMPY_ONLY_MLP))
            continue
        for dtype, why in dtypes:
            if dtype != "fp32":
                emit(not_run("numpy", device, dtype, "numpy", preset, "skipped",
                             why or "the numpy reference path trains in fp32 only (numpy has no bfloat16)"))
                continue

            def run(preset: Preset = preset, dtype: str = dtype) -> BenchResult:
                c = preset.config
                trainer = NumpyMLPTrainer(c, make_batches("mlp", c, opts.seed), preset.lr, opts.seed)  # type: ignore[arg-type]
                trained = run_loop(trainer.step, lambda loss: loss, float, backend.clock(device), preset.steps)
                o = Outcome("numpy", device, dtype, "numpy", preset, step_flops("mlp", c),
                            sum(p.size for p in trainer.params), trained,
                            peak_memory_bytes=cpu_peak_rss_bytes(), memory_basis=CPU_MEMORY_BASIS,
                            env={**backend.env(device), **thread_env})
                return to_result(o, opts.machine)

            _guard(emit, not_run("numpy", device, dtype, "numpy", preset, "failed", ""), run)


# -- torch --------------------------------------------------------------------------------------------

def compile_models(profile: str, kind: str) -> tuple[str, ...]:
    """Models torch.compile runs on: only the MLP in the quick CPU profile, every model otherwise."""
    return ("mlp",) if profile == "quick" and kind == "cpu" else MODELS


def compile_unavailable_reason(torch: Any, device: str) -> str | None:
    """Why torch.compile (inductor) cannot run here, or None: CPU needs a C++ compiler, CUDA needs triton."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    kind = device.split(":")[0]
    if kind == "cpu":
        cxx = os.environ.get("CXX") or "g++"
        if not (shutil.which(cxx) or shutil.which("c++") or shutil.which("clang++")):
            return f"torch.compile on the CPU needs a C++ compiler; none found ({cxx}, c++, clang++)"
    elif kind == "cuda":
        import importlib.util

        if importlib.util.find_spec("triton") is None:
            return "torch.compile on CUDA needs triton, which is not installed"
    else:
        return f"torch.compile is not benchmarked on {kind}"
    return None


@contextmanager
def _tf32(torch: Any, device: str, allow: bool) -> Iterator[dict[str, Any]]:
    if not device.startswith("cuda"):
        yield {}
        return
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    before = (matmul.allow_tf32, cudnn.allow_tf32)
    matmul.allow_tf32, cudnn.allow_tf32 = allow, allow
    try:
        yield {"tf32_allowed": allow, "cudnn_allow_tf32": allow}
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = before


def _run_torch(backend: Any, device: str, kind: str, dtypes: list[tuple[str, str | None]], opts: SuiteOptions,
               emit: Emit, thread_env: dict[str, Any]) -> None:
    from .models_torch import TorchTrainer

    torch = backend.torch
    modes = [m for m in (_train_args(opts).get("modes") or TORCH_MODES) if m in TORCH_MODES]
    compile_why = compile_unavailable_reason(torch, device)
    compile_spent = 0.0
    for preset in _presets(opts, kind):
        for dtype, why in dtypes:
            for mode in modes:
                fallback = not_run("torch", device, dtype, mode, preset, "failed", "")
                if why:
                    emit(not_run("torch", device, dtype, mode, preset, "skipped", why))
                    continue
                if mode == "compile" and compile_why:
                    emit(not_run("torch", device, dtype, mode, preset, "skipped", compile_why))
                    continue
                if mode == "compile" and preset.model not in compile_models(train_profile(opts), kind):
                    only = ", ".join(compile_models(train_profile(opts), kind))
                    emit(not_run("torch", device, dtype, mode, preset, "skipped",
                                 f"the {train_profile(opts)} profile compiles only {only} on a CPU "
                                 "(torch.compile costs tens of seconds per model there); "
                                 "--profile standard compiles every model"))
                    continue
                if mode == "compile" and compile_spent > preset.steps.compile_budget_s:
                    emit(not_run("torch", device, dtype, mode, preset, "skipped",
                                 f"torch.compile already took {compile_spent:.0f} s in this run, over the "
                                 f"{train_profile(opts)} profile's {preset.steps.compile_budget_s:g} s compile budget"))
                    continue

                def run(preset: Preset = preset, dtype: str = dtype, mode: str = mode) -> BenchResult:
                    c = preset.config
                    with _tf32(torch, device, dtype == "tf32") as tf32_env:
                        trainer = TorchTrainer(preset.model, c, make_batches(preset.model, c, opts.seed), preset.lr,
                                               opts.seed, device, dtype, compile_model=mode == "compile")
                        if kind == "gpu" and device.startswith("cuda"):
                            torch.cuda.reset_peak_memory_stats(device)
                        trained = run_loop(trainer.step, lambda loss: loss, lambda t: float(t.item()),
                                           backend.clock(device), preset.steps)
                    if device.startswith("cuda"):
                        mem, basis = int(torch.cuda.max_memory_allocated(device)), "torch.cuda.max_memory_allocated"
                    elif kind == "cpu":
                        mem, basis = cpu_peak_rss_bytes(), CPU_MEMORY_BASIS
                    else:
                        mem, basis = None, f"peak memory not read on {device}"
                    median = sorted(trained.samples_s)[len(trained.samples_s) // 2]
                    compile_s = max(trained.first_step_s - median, 0.0) if mode == "compile" else None
                    extra: dict[str, Any] = {"autocast": "bf16" if dtype == "bf16" else None}
                    if compile_s is not None:
                        extra["compile_s_basis"] = "first step (compiles forward and backward) minus the median step"
                    o = Outcome("torch", device, dtype, mode, preset, step_flops(preset.model, c), trainer.params,
                                trained, compile_s=compile_s, peak_memory_bytes=mem, memory_basis=basis,
                                env={**backend.env(device), **thread_env, **tf32_env}, extra=extra)
                    del trainer
                    if device.startswith("cuda"):
                        torch.cuda.empty_cache()
                    return to_result(o, opts.machine)

                started = time.perf_counter()
                _guard(emit, fallback, run)
                if mode == "compile":
                    compile_spent += time.perf_counter() - started


# -- jax ----------------------------------------------------------------------------------------------

def _run_jax(backend: Any, device: str, kind: str, dtypes: list[tuple[str, str | None]], opts: SuiteOptions,
             emit: Emit, thread_env: dict[str, Any]) -> None:
    from .models_jax import PRECISION, JaxTrainer

    dev = backend._device_map()[device]
    for preset in _presets(opts, kind):
        for dtype, why in dtypes:
            if why:
                emit(not_run("jax", device, dtype, "jit", preset, "skipped", why))
                continue

            def run(preset: Preset = preset, dtype: str = dtype) -> BenchResult:
                c = preset.config
                trainer = JaxTrainer(preset.model, c, make_batches(preset.model, c, opts.seed), preset.lr,
                                     opts.seed, dev, dtype)
                trained = run_loop(trainer.step, lambda out: out, lambda v: float(v), backend.clock(device),
                                   preset.steps)
                mem, basis = None, None
                if kind == "cpu":
                    mem, basis = cpu_peak_rss_bytes(), CPU_MEMORY_BASIS
                else:
                    try:
                        stats = dev.memory_stats() or {}
                    except Exception:  # noqa: BLE001 - some platforms raise instead of returning None
                        stats = {}
                    if "peak_bytes_in_use" in stats:
                        mem, basis = int(stats["peak_bytes_in_use"]), "jax device memory_stats peak_bytes_in_use"
                o = Outcome("jax", device, dtype, "jit", preset, step_flops(preset.model, c), trainer.param_count,
                            trained, compile_s=trainer.compile_s, peak_memory_bytes=mem, memory_basis=basis,
                            env={**backend.env(device), **thread_env, "matmul_precision": PRECISION[dtype],
                                 "tf32_allowed": dtype == "tf32"},
                            extra={"xla_cost_flops": trainer.cost_flops,
                                   "compile_s_basis": "jax.jit(step).lower(...).compile()"})
                return to_result(o, opts.machine)

            _guard(emit, not_run("jax", device, dtype, "jit", preset, "failed", ""), run)


# -- threads ------------------------------------------------------------------------------------------

@contextmanager
def _threads(backend: Any, n: int | None) -> Iterator[dict[str, Any]]:
    threads = getattr(backend, "threads", None)
    if threads is None:
        yield {}
        return
    with threads(n) as env:
        yield env


__all__ = ["run_suite"]
