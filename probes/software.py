"""Software that decides how fast a benchmark runs: Python, numpy and its BLAS, torch, jax, and the
environment variables that steer them.

Three independent parts, each with its own status in the profile ("python", "torch", "jax"), so
they can run side by side: `import torch` alone costs more than a second and a half, so torch and
jax are only ever imported in child processes, and the torch child is started only when torch
could see an accelerator (its version and CUDA/HIP build are read from `torch/version.py`
without importing torch).
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import platform
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

from .child import run_child
from .context import ProbeContext, run_probe
from .pci import VENDOR_AMD, VENDOR_INTEL, VENDOR_NVIDIA, is_accelerator_class, list_pci_devices
from .record import ProbeStatus, Record, Unavailable

FORCE_ENV = "INFRABENCH_PROBE_FRAMEWORKS"  # "1": start the torch child even with no accelerator in sight

ENV_NAMES = (
    "OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES", "NVIDIA_TF32_OVERRIDE", "CUDA_DEVICE_MAX_CONNECTIONS", "CUDA_LAUNCH_BLOCKING",
    "XLA_FLAGS", "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION", "TF_CPP_MIN_LOG_LEVEL",
    "JAX_PLATFORMS", "JAX_ENABLE_X64", "PYTORCH_CUDA_ALLOC_CONF", "KMP_AFFINITY", "KMP_BLOCKTIME",
    "GOMP_CPU_AFFINITY", "LD_PRELOAD",
)
ENV_PREFIXES = ("NCCL_", "TPU_", "TORCH_", "MALLOC_")

FindSpec = Callable[[str], "ModuleSpec | None"]


@dataclass
class ThreadpoolLibrary(Record):
    """One native thread pool loaded in this process, as threadpoolctl sees it."""

    user_api: str | None = None  # "blas" | "openmp"
    internal_api: str | None = None  # "openblas" | "mkl" | "blis" | "openmp"
    version: str | None = None
    architecture: str | None = None  # kernel OpenBLAS/BLIS picked, e.g. "SkylakeX", "Zen", "Haswell"
    threading_layer: str | None = None  # "pthreads" | "openmp" | "intel" ...
    num_threads: int | None = None
    prefix: str | None = None
    filepath: str | None = None


@dataclass
class FrameworkRecord(Record):
    """What one framework (torch or jax) is and which devices it sees."""

    name: str | None = None
    installed: bool | None = None
    version: str | None = None
    location: str | None = None  # package directory
    devices: list[str] | None = None  # framework device ids, e.g. ["cpu", "cuda:0"] or ["tpu:0", ...]
    device_names: dict[str, str] | None = None  # id -> name / device_kind, e.g. "NVIDIA H100 80GB HBM3"
    devices_source: str | None = None  # how `devices` was found, or why the child was not started


@dataclass
class TorchRecord(FrameworkRecord):
    version_source: str | None = None
    cuda_build: str | None = None  # torch.version.cuda: CUDA toolkit torch was built with
    hip_build: str | None = None  # torch.version.hip
    xpu_build: str | None = None  # torch.version.xpu
    cudnn_version: int | None = None
    cuda_available: bool | None = None
    cuda_device_count: int | None = None
    mps_available: bool | None = None
    xpu_available: bool | None = None
    num_threads: int | None = None  # torch.get_num_threads()
    num_interop_threads: int | None = None


@dataclass
class JaxRecord(FrameworkRecord):
    jaxlib_version: str | None = None
    default_backend: str | None = None  # "cpu" | "gpu" | "tpu"
    enable_x64: bool | None = None  # jax_enable_x64: False means float64 arrays silently become float32


@dataclass
class SoftwareRecord(Record):
    python_version: str | None = None
    python_implementation: str | None = None
    python_executable: str | None = None
    numpy_version: str | None = None
    numpy_blas_build: dict[str, str] | None = None  # numpy's build-time BLAS (name, version, configuration)
    threadpools: list[ThreadpoolLibrary] | None = None  # native thread pools loaded with numpy
    env: dict[str, str] = field(default_factory=dict)  # relevant variables that are set
    torch: TorchRecord | None = None
    jax: JaxRecord | None = None


# ---------------------------------------------------------------- python, numpy, BLAS, environment


def relevant_env(env: Mapping[str, str]) -> dict[str, str]:
    """Variables that change threading, device visibility or allocation, only those set."""
    return {k: env[k] for k in sorted(env) if k in ENV_NAMES or k.startswith(ENV_PREFIXES)}


def probe_python_env(ctx: ProbeContext) -> SoftwareRecord:
    """Python, numpy and the BLAS it loaded, environment variables; `torch`/`jax` are filled separately."""
    rec = SoftwareRecord(
        python_version=platform.python_version(),
        python_implementation=platform.python_implementation(),
        python_executable=ctx.python or sys.executable,
        env=relevant_env(ctx.env),
    )
    rec.set_null("torch", "torch not probed (see probe_torch)")
    rec.set_null("jax", "jax not probed (see probe_jax)")
    try:
        import numpy
    except ImportError as exc:
        rec.set_null("numpy_version", f"numpy not importable: {exc}")
        rec.explain_nulls("numpy not importable, so no BLAS to inspect")
        return rec
    rec.numpy_version = numpy.__version__
    _fill_numpy_blas_build(rec, numpy)
    try:
        from threadpoolctl import threadpool_info
    except ImportError as exc:
        rec.set_null("threadpools", f"threadpoolctl not importable: {exc}")
        return rec
    rec.threadpools = [_threadpool(info) for info in threadpool_info()]
    return rec


def _fill_numpy_blas_build(rec: SoftwareRecord, numpy: Any) -> None:
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception as exc:  # noqa: BLE001 - numpy < 1.25 has no mode="dicts"
        rec.set_null("numpy_blas_build", f"numpy.show_config(mode='dicts') not available: {exc}")
        return
    keys = ("name", "version", "openblas configuration")
    rec.numpy_blas_build = {k: str(blas[k]) for k in keys if blas.get(k) is not None}


def _threadpool(info: Mapping[str, Any]) -> ThreadpoolLibrary:
    lib = ThreadpoolLibrary(**{k: info.get(k) for k in (
        "user_api", "internal_api", "version", "architecture", "threading_layer", "num_threads", "prefix",
        "filepath")})
    lib.explain_nulls(f"not reported by threadpoolctl for {info.get('internal_api')}")
    return lib


# ---------------------------------------------------------------- torch


def torch_accelerator_evidence(ctx: ProbeContext, platform_name: str | None = None) -> str | None:
    """Why torch might see an accelerator here (None: nothing it could use), from tier-0 evidence only."""
    if (platform_name or sys.platform) == "darwin":
        return "macOS (MPS)"
    for dev in list_pci_devices(ctx):
        display = dev.class_code >> 16 == 0x03
        if (dev.vendor_id in (VENDOR_NVIDIA, VENDOR_AMD) and is_accelerator_class(dev.class_code)) or (
            dev.vendor_id == VENDOR_INTEL and display
        ):
            return f"PCI {dev.address} vendor {dev.vendor_id:#06x} class {dev.class_code:#08x}"
    dev_dir = ctx.path("/dev")
    for pattern in ("nvidia*", "kfd", "dri/renderD*"):
        found = sorted(dev_dir.glob(pattern)) if dev_dir.is_dir() else []
        if found:
            return f"/dev/{found[0].relative_to(dev_dir)}"
    return None


NO_ACCELERATOR = (
    "not started: no accelerator torch could use at tier 0 (no NVIDIA/AMD display or accelerator "
    "or Intel display device on PCI, no /dev/nvidia*, /dev/kfd or /dev/dri/renderD*, not macOS); "
    f"{FORCE_ENV}=1 starts it anyway"
)


def read_torch_version_file(version_py: Path) -> dict[str, Any]:
    """Constants assigned in torch/version.py, evaluated as literals: nothing in the file is executed."""
    tree = ast.parse(version_py.read_text(), filename=str(version_py))
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        else:
            continue
        try:
            values[target] = ast.literal_eval(value)
        except ValueError:
            continue  # not a constant (a computed value): left out rather than run
    return values


def probe_torch(
    ctx: ProbeContext, force: bool | None = None, find_spec: FindSpec = importlib.util.find_spec
) -> tuple[TorchRecord, ProbeStatus]:
    """torch's version and build from files; its devices from a child, when an accelerator is in sight.

    Status "unavailable" when torch is not installed; "timeout"/"error" when the child failed, the
    record then keeps what was read without importing torch.
    """
    rec = TorchRecord(name="torch")
    forced = force if force is not None else ctx.env.get(FORCE_ENV) == "1"

    def body() -> TorchRecord:
        spec = find_spec("torch")
        if spec is None or not spec.submodule_search_locations:
            rec.installed = False
            raise Unavailable("torch not installed")
        rec.installed = True
        location = Path(list(spec.submodule_search_locations)[0])
        rec.location = str(location)
        _fill_torch_build(rec, location)
        evidence = "forced" if forced else torch_accelerator_evidence(ctx)
        if evidence is None:
            rec.devices, rec.device_names, rec.devices_source = ["cpu"], {}, NO_ACCELERATOR
            built_without = [rec.null_reasons.get(k, "") for k in ("cuda_build", "hip_build")]
            if all(r.startswith("torch.version.") for r in built_without):
                rec.cuda_available = False  # a CPU-only build cannot use CUDA whatever the machine has
            rec.explain_nulls("torch child not started (see devices_source)")
            return rec
        value = run_child(
            "infrabench.probes.software:torch_child", ctx.timeout_s, env=ctx.env, python=ctx.python
        )
        _fill_torch_child(rec, value, evidence)
        return rec

    _, status = run_probe("torch", body, rec)
    if status.status != "ok":
        rec.explain_nulls(status.reason or status.status)
    return rec, status


def _fill_torch_build(rec: TorchRecord, location: Path) -> None:
    version_py = location / "version.py"
    try:
        consts = read_torch_version_file(version_py)
    except (OSError, SyntaxError) as exc:
        consts = {}
        reason = f"{version_py} not readable: {exc}"
    else:
        reason = f"not set in {version_py}"
    if isinstance(consts.get("__version__"), str):
        rec.version, rec.version_source = consts["__version__"], f"{version_py} (torch not imported)"
    else:
        try:
            rec.version, rec.version_source = importlib.metadata.version("torch"), "package metadata"
        except importlib.metadata.PackageNotFoundError:
            rec.set_null("version", reason)
    for attr, key in (("cuda_build", "cuda"), ("hip_build", "hip"), ("xpu_build", "xpu")):
        if key not in consts:
            rec.set_null(attr, reason)
        elif consts[key] is None:
            rec.set_null(attr, f"torch.version.{key} is None: torch built without {key.upper()}")
        else:
            setattr(rec, attr, str(consts[key]))


def _fill_torch_child(rec: TorchRecord, value: Mapping[str, Any], evidence: str) -> None:
    rec.version = value["version"]
    rec.version_source = "torch.__version__ (child)"
    rec.devices = value["devices"]
    rec.device_names = value["device_names"]
    rec.devices_source = f"torch child ({evidence})"
    for key in ("cudnn_version", "cuda_available", "cuda_device_count", "mps_available", "xpu_available",
                "num_threads", "num_interop_threads"):
        setattr(rec, key, value.get(key))
        rec.null_reasons.pop(key, None)
    if rec.cudnn_version is None:
        rec.set_null("cudnn_version", "torch.backends.cudnn.version() is None: no cuDNN in this build")
    rec.explain_nulls("not reported by torch")


def torch_child() -> dict[str, Any]:
    """Runs in the child: import torch and ask what it sees."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    devices, names = ["cpu"], {}
    for i in range(count):
        devices.append(f"cuda:{i}")
        names[f"cuda:{i}"] = torch.cuda.get_device_name(i)
    mps = getattr(torch.backends, "mps", None)
    mps_available = bool(mps is not None and mps.is_available())
    if mps_available:
        devices.append("mps:0")
    xpu = getattr(torch, "xpu", None)
    xpu_available = bool(xpu is not None and xpu.is_available())
    if xpu_available:
        for i in range(xpu.device_count()):
            devices.append(f"xpu:{i}")
            names[f"xpu:{i}"] = xpu.get_device_name(i)
    cudnn = getattr(torch.backends, "cudnn", None)
    return {
        "version": str(torch.__version__),
        "devices": devices,
        "device_names": names,
        "cudnn_version": cudnn.version() if cudnn is not None and cudnn.is_available() else None,
        "cuda_available": bool(torch.cuda.is_available()),
        "cuda_device_count": count,
        "mps_available": mps_available,
        "xpu_available": xpu_available,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
    }


# ---------------------------------------------------------------- jax


def probe_jax(
    ctx: ProbeContext, find_spec: FindSpec = importlib.util.find_spec
) -> tuple[JaxRecord, ProbeStatus]:
    """jax and jaxlib versions from package metadata; backend, devices and x64 from a child (always: jax
    on CPU starts in well under a second)."""
    rec = JaxRecord(name="jax")

    def body() -> JaxRecord:
        spec = find_spec("jax")
        if spec is None:
            rec.installed = False
            raise Unavailable("jax not installed")
        rec.installed = True
        if spec.submodule_search_locations:
            rec.location = str(list(spec.submodule_search_locations)[0])
        for attr, dist in (("version", "jax"), ("jaxlib_version", "jaxlib")):
            try:
                setattr(rec, attr, importlib.metadata.version(dist))
            except importlib.metadata.PackageNotFoundError:
                rec.set_null(attr, f"no package metadata for {dist}")
        env = dict(ctx.env)
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # do not reserve GPU memory just to list it
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        value = run_child("infrabench.probes.software:jax_child", ctx.timeout_s, env=env, python=ctx.python)
        rec.version, rec.jaxlib_version = value["version"], value["jaxlib_version"]
        rec.null_reasons.pop("version", None)
        rec.null_reasons.pop("jaxlib_version", None)
        rec.default_backend, rec.enable_x64 = value["default_backend"], value["enable_x64"]
        rec.devices = [f"{d['platform']}:{d['id']}" for d in value["devices"]]
        rec.device_names = {f"{d['platform']}:{d['id']}": d["device_kind"] for d in value["devices"]}
        rec.devices_source = "jax child: jax.devices() of the default backend"
        rec.explain_nulls("not reported by jax")
        return rec

    _, status = run_probe("jax", body, rec)
    if status.status != "ok":
        rec.explain_nulls(status.reason or status.status)
    return rec, status


def jax_child() -> dict[str, Any]:
    """Runs in the child: import jax, initialise its default backend, list its devices."""
    import jax
    import jaxlib

    try:
        x64 = bool(jax.config.read("jax_enable_x64"))
    except AttributeError:
        x64 = bool(jax.config.jax_enable_x64)
    return {
        "version": jax.__version__,
        "jaxlib_version": getattr(jaxlib, "__version__", None),
        "default_backend": jax.default_backend(),
        "devices": [
            {"platform": d.platform, "device_kind": d.device_kind, "id": d.id} for d in jax.devices()
        ],
        "enable_x64": x64,
    }


# ---------------------------------------------------------------- all three


def probe_software_with_status(
    ctx: ProbeContext, force: bool | None = None
) -> tuple[SoftwareRecord, list[ProbeStatus]]:
    """All three parts at once (the two children run side by side); statuses "python", "torch", "jax"."""
    default = SoftwareRecord()
    with ThreadPoolExecutor(max_workers=3) as pool:
        torch_future = pool.submit(probe_torch, ctx, force)
        jax_future = pool.submit(probe_jax, ctx)
        rec, python_status = run_probe("python", lambda: probe_python_env(ctx), default)
        torch_rec, torch_status = torch_future.result()
        jax_rec, jax_status = jax_future.result()
    if python_status.status != "ok":
        rec.explain_nulls(python_status.reason or python_status.status)
    attach_frameworks(rec, torch_rec, jax_rec)
    return rec, [python_status, torch_status, jax_status]


def attach_frameworks(rec: SoftwareRecord, torch: TorchRecord | None, jax: JaxRecord | None) -> None:
    """Put the framework records into the software record, replacing their "not probed" reasons."""
    for name, value in (("torch", torch), ("jax", jax)):
        if value is not None:
            setattr(rec, name, value)
            rec.null_reasons.pop(name, None)


def probe_software(ctx: ProbeContext, force: bool | None = None) -> SoftwareRecord:
    """The software record alone; use probe_software_with_status to keep each part's status."""
    return probe_software_with_status(ctx, force)[0]
