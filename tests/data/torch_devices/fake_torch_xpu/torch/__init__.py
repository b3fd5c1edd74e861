"""Stand-in for torch on a machine with one Intel Data Center GPU Max 1550, for the child process only.

Values from a recorded `torch.xpu.get_device_properties(0)` (torch 2.9.0.dev20250824+xpu), quoted in
https://github.com/intel/torch-xpu-ops/issues/1955:
_XpuDeviceProperties(name='Intel(R) Data Center GPU Max 1550', platform_name='Intel(R) oneAPI Unified
Runtime over Level-Zero', type='gpu', driver_version='1.6.33578+15', total_memory=65520MB,
max_compute_units=512, gpu_eu_count=512, gpu_subslice_count=64, ..., has_fp16=1, has_fp64=1, ...)
`total_memory` is in bytes on the object (the repr prints MiB). No device_id/uuid in that build.
"""

import types

__version__ = "2.9.0.dev20250824+xpu"


class _XpuDeviceProperties:
    name = "Intel(R) Data Center GPU Max 1550"
    platform_name = "Intel(R) oneAPI Unified Runtime over Level-Zero"
    type = "gpu"
    driver_version = "1.6.33578+15"
    total_memory = 65520 * 1024 * 1024
    max_compute_units = 512
    gpu_eu_count = 512
    gpu_subslice_count = 64
    has_fp16 = 1
    has_fp64 = 1


xpu = types.SimpleNamespace(
    is_available=lambda: True,
    device_count=lambda: 1,
    get_device_properties=lambda i: _XpuDeviceProperties(),
)
backends = types.SimpleNamespace(
    mps=types.SimpleNamespace(is_available=lambda: False, is_built=lambda: False),
)
