"""infrabench: what a machine can really do for AI work.

Public API: `detect()` returns the MachineProfile of this machine. Heavy work happens in the stage
packages (`infrabench.probes`, `.suites`, `.reports`); importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from infrabench.probes.context import ProbeContext
    from infrabench.probes.profile import MachineProfile

__all__ = ["__version__", "detect"]


def detect(ctx: ProbeContext | None = None) -> MachineProfile:
    """Probe this machine (hardware and software). Never imports torch or jax in this process."""
    from infrabench.probes.profile import collect

    return collect(ctx)
