"""infrabench: what a machine can really do for AI work.

Public API: `detect()` (the MachineProfile of this machine), `run()` (the suites, as `infrabench run`),
`compare()` (the gate, as `infrabench compare`), `report()` (the HTML report), `load()` (run files as a
pandas DataFrame) and `Run` (the results model: `Run.load(path)`, `run.write(path)`). Heavy work
happens in the stage packages (`infrabench.probes`, `.suites`, `.reports`); importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# In a source checkout the stage folders (probes/, suites/, reports/) sit beside this one. When this
# package is imported from the checkout itself (e.g. `python -m ...` run in the repository root puts
# the root first on sys.path) instead of from the install, resolve its subpackages there, as the
# install maps them. In an installed tree the parent holds no probes/ and nothing changes.
_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "probes" / "profile.py").is_file() and str(_checkout) not in __path__:
    __path__.append(str(_checkout))

if TYPE_CHECKING:
    from infrabench.probes.context import ProbeContext
    from infrabench.probes.profile import MachineProfile

__all__ = ["Run", "__version__", "compare", "detect", "load", "report", "run"]


def detect(ctx: ProbeContext | None = None) -> MachineProfile:
    """Probe this machine (hardware and software). Never imports torch or jax in this process."""
    from infrabench.probes.profile import collect

    return collect(ctx)


def load(paths):  # noqa: ANN001, ANN201 - str | PathLike | iterable of them -> pandas.DataFrame
    """Run files as one pandas DataFrame: one row per benchmark per run, with machine columns (needs pandas)."""
    from infrabench.data import load as _load

    return _load(paths)


def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - see infrabench.api.run
    """Run the suites as `infrabench run` does and return the `Run` (see `infrabench.api.run`)."""
    from infrabench.api import run as _run

    return _run(*args, **kwargs)


def compare(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - see infrabench.api.compare
    """Compare a new run with base runs as `infrabench compare` does; returns the Comparison."""
    from infrabench.api import compare as _compare

    return _compare(*args, **kwargs)


def report(run, path):  # noqa: ANN001, ANN201 - Run | path, path -> Path
    """Write the HTML report of one run (a `Run` or a run file) to `path`."""
    from infrabench.api import report as _report

    return _report(run, path)


def __getattr__(name: str):  # noqa: ANN202 - lazy: importing infrabench stays cheap
    if name == "Run":
        from infrabench.results import Run

        return Run
    raise AttributeError(f"module 'infrabench' has no attribute {name!r}")
