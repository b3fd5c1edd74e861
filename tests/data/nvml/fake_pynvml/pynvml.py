"""Stand-in for nvidia-ml-py's `pynvml`, answering from a JSON fixture named by $INFRABENCH_FAKE_NVML_FIXTURE.

Names, error codes, error classes and result structures copy nvidia-ml-py 13.615 (pynvml.py), so code
that works against this module works against the real one. Fault injection, from fixture fields:
  "import_error": str            importing this module raises ImportError
  "init_error": "DRIVER_NOT_LOADED" | "LIBRARY_NOT_FOUND" | ...   nvmlInit raises that NVML error
  "not_supported": [fn, ...]     those functions raise NVMLError_NotSupported
  "no_permission": [fn, ...]     those functions raise NVMLError_NoPermission
  "function_not_found": [fn, ...]  those raise NVMLError_FunctionNotFound (older driver)
  "missing": [fn, ...]           those functions are not defined (older pynvml)
  "gpu_lost": true | [fn, ...]   every device call (or those) raises NVMLError_GpuIsLost
  "hang": fn                     that function sleeps for an hour
"""

import json
import os
import string
import sys
import time

_FIXTURE = json.loads(open(os.environ["INFRABENCH_FAKE_NVML_FIXTURE"]).read())
if _FIXTURE.get("import_error"):
    raise ImportError(_FIXTURE["import_error"])

MIB = 1024 * 1024

NVML_FEATURE_DISABLED = 0
NVML_FEATURE_ENABLED = 1
NVML_TEMPERATURE_GPU = 0
NVML_NVLINK_MAX_LINKS = 36
NVML_CLOCK_GRAPHICS = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
NVML_CLOCK_VIDEO = 3
NVML_DEVICE_MIG_DISABLE = 0x0
NVML_DEVICE_MIG_ENABLE = 0x1
nvmlMemory_v2 = 0x02000028

NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_UNKNOWN = 999

_ERROR_STRINGS = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_TIMEOUT: "Timeout",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_LIB_RM_VERSION_MISMATCH: "RM has detected an NVML/RM version mismatch.",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """As in pynvml: NVMLError(code) returns the subclass for that code."""

    _valClassMapping = {}

    def __new__(typ, value):
        if typ == NVMLError:
            typ = NVMLError._valClassMapping.get(value, typ)
        obj = Exception.__new__(typ)
        obj.value = value
        return obj

    def __str__(self):
        return _ERROR_STRINGS.get(self.value, f"NVML Error with code {self.value}")


def _make_error_classes():
    """The same generated NVMLError_<CamelCase> subclasses pynvml builds from NVML_ERROR_* names."""
    module = sys.modules[__name__]
    for err_name in [x for x in dir(module) if x.startswith("NVML_ERROR_")]:
        class_name = "NVMLError_" + string.capwords(err_name.replace("NVML_ERROR_", ""), "_").replace("_", "")
        value = getattr(module, err_name)

        def gen_new(val):
            def new(typ, *args):
                return NVMLError.__new__(typ, val)

            return new

        cls = type(class_name, (NVMLError,), {"__new__": gen_new(value)})
        cls.__module__ = __name__
        setattr(module, class_name, cls)
        NVMLError._valClassMapping[value] = cls


_make_error_classes()


class _Struct:
    """Attribute bag standing in for pynvml's ctypes structures (same field names)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


class _Handle:
    def __init__(self, index, gpu):
        self.index = index
        self.gpu = gpu


class _MigHandle:
    def __init__(self, parent, slot, mig):
        self.parent = parent
        self.slot = slot
        self.mig = mig


def _faults(name):
    if _FIXTURE.get("hang") == name:
        time.sleep(3600)
    lost = _FIXTURE.get("gpu_lost")
    if (lost is True and name.startswith("nvmlDevice")) or (isinstance(lost, list) and name in lost):
        raise NVMLError(NVML_ERROR_GPU_IS_LOST)
    for field, code in (
        ("not_supported", NVML_ERROR_NOT_SUPPORTED),
        ("no_permission", NVML_ERROR_NO_PERMISSION),
        ("function_not_found", NVML_ERROR_FUNCTION_NOT_FOUND),
    ):
        if name in _FIXTURE.get(field, []):
            raise NVMLError(code)


def _api(fn):
    def wrapper(*args, **kwargs):
        _faults(fn.__name__)
        return fn(*args, **kwargs)

    wrapper.__name__ = fn.__name__
    return wrapper


def _hex(value):
    return int(value, 16) if isinstance(value, str) else int(value)


@_api
def nvmlInit():
    if _FIXTURE.get("init_error"):
        raise NVMLError(globals()["NVML_ERROR_" + _FIXTURE["init_error"]])


@_api
def nvmlShutdown():
    pass


@_api
def nvmlSystemGetDriverVersion():
    return _FIXTURE["driver_version"]


@_api
def nvmlSystemGetCudaDriverVersion():
    return _FIXTURE["cuda_driver_version"]


@_api
def nvmlSystemGetCudaDriverVersion_v2():
    return _FIXTURE["cuda_driver_version"]


@_api
def nvmlDeviceGetCount():
    return len(_FIXTURE["gpus"])


@_api
def nvmlDeviceGetHandleByIndex(index):
    if not 0 <= index < len(_FIXTURE["gpus"]):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return _Handle(index, _FIXTURE["gpus"][index])


@_api
def nvmlDeviceGetName(handle):
    return handle.gpu["name"]


@_api
def nvmlDeviceGetUUID(handle):
    if isinstance(handle, _MigHandle):
        return handle.mig["uuid"]
    return handle.gpu["uuid"]


@_api
def nvmlDeviceGetSerial(handle):
    return handle.gpu["serial"]


@_api
def nvmlDeviceGetPciInfo(handle):
    pci = handle.gpu["pci"]
    return _Struct(
        busIdLegacy=pci["bus_id"],
        busId=pci["bus_id"],
        domain=_hex(pci["domain"]),
        bus=_hex(pci["bus"]),
        device=_hex(pci["device"]),
        pciDeviceId=_hex(pci["device_id"]),
        pciSubSystemId=_hex(pci["sub_system_id"]),
    )


@_api
def nvmlDeviceGetMemoryInfo(handle, version=None):
    mem = handle.gpu["fb_memory_mib"]
    total, free = mem["total"] * MIB, mem["free"] * MIB
    if not version:  # v1: used = total - free, driver-reserved memory included
        return _Struct(total=total, free=free, used=total - free)
    if version != nvmlMemory_v2:
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    reserved, used = mem["reserved"] * MIB, mem["used"] * MIB  # v2: used leaves out reserved, as nvidia-smi
    return _Struct(version=version, total=total, reserved=reserved, free=free, used=used)


@_api
def nvmlDeviceGetClockInfo(handle, type):
    return handle.gpu["clocks_mhz"][{NVML_CLOCK_SM: "sm", NVML_CLOCK_MEM: "memory"}[type]]


@_api
def nvmlDeviceGetMaxClockInfo(handle, type):
    return handle.gpu["max_clocks_mhz"][{NVML_CLOCK_SM: "sm", NVML_CLOCK_MEM: "memory"}[type]]


@_api
def nvmlDeviceGetPowerUsage(handle):
    return int(round(handle.gpu["power_draw_w"] * 1000))


@_api
def nvmlDeviceGetEnforcedPowerLimit(handle):
    return int(round(handle.gpu["current_power_limit_w"] * 1000))


@_api
def nvmlDeviceGetPowerManagementDefaultLimit(handle):
    return int(round(handle.gpu["default_power_limit_w"] * 1000))


@_api
def nvmlDeviceGetTemperature(handle, sensor):
    if sensor != NVML_TEMPERATURE_GPU:
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return handle.gpu["temperature_c"]


@_api
def nvmlDeviceGetCurrentClocksEventReasons(handle):
    return _hex(handle.gpu["clocks_event_reasons"])


@_api
def nvmlDeviceGetCurrentClocksThrottleReasons(handle):
    return _hex(handle.gpu["clocks_event_reasons"])


@_api
def nvmlDeviceGetCurrPcieLinkGeneration(handle):
    return handle.gpu["pcie"]["gen_current"]


@_api
def nvmlDeviceGetCurrPcieLinkWidth(handle):
    return handle.gpu["pcie"]["width_current"]


@_api
def nvmlDeviceGetMaxPcieLinkGeneration(handle):
    return handle.gpu["pcie"]["gen_max"]


@_api
def nvmlDeviceGetMaxPcieLinkWidth(handle):
    return handle.gpu["pcie"]["width_max"]


@_api
def nvmlDeviceGetNvLinkState(handle, link):
    if link >= NVML_NVLINK_MAX_LINKS:
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    states = handle.gpu["nvlink_states"]
    if link >= len(states):
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return states[link]


@_api
def nvmlDeviceGetEccMode(handle):
    return list(handle.gpu["ecc_mode"])


@_api
def nvmlDeviceGetMigMode(handle):
    return list(handle.gpu["mig_mode"])


@_api
def nvmlDeviceGetCudaComputeCapability(handle):
    return tuple(handle.gpu["cuda_compute_capability"])


@_api
def nvmlDeviceGetMaxMigDeviceCount(handle):
    if handle.gpu["mig_mode"][0] != NVML_DEVICE_MIG_ENABLE:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return handle.gpu["max_mig_device_count"]


@_api
def nvmlDeviceGetMigDeviceHandleByIndex(device, index):
    migs = device.gpu.get("mig_devices", [])
    if index >= len(migs):
        raise NVMLError(NVML_ERROR_NOT_FOUND)
    return _MigHandle(device, index, migs[index])


@_api
def nvmlDeviceGetAttributes(device):
    if not isinstance(device, _MigHandle):  # NVML: "currently only supports MIG device handles"
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    mig = device.mig
    return _Struct(multiprocessorCount=mig["multiprocessor_count"], memorySizeMB=mig["memory_mib"])


for _name in _FIXTURE.get("missing", []):
    del globals()[_name]
