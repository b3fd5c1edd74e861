"""pytest plugin: infrabench's kernels as pytest-benchmark tests, for teams that already gate with pytest-benchmark.

Off unless `pytest --infrabench`; then the matmul shapes and memory STREAM kernels of the chosen suites
and backends are added to the session as tests of pytest-benchmark's `benchmark` fixture, timed by
pytest-benchmark itself (each call ends with the backend's synchronisation), so `--benchmark-json`,
`--benchmark-autosave`, `--benchmark-compare` and `--benchmark-compare-fail` work as with any test:

    pytest --infrabench --infrabench-suite matmul --infrabench-backend numpy --benchmark-json out.json

Registered through the `pytest11` entry point; importing this module imports nothing heavy (no numpy,
torch or jax), so the plugin costs nothing when it is off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CASES = Path(__file__).with_name("pytest_cases.py")
SUITES = ("matmul", "memory")


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("infrabench", "infrabench kernels as pytest-benchmark tests")
    group.addoption("--infrabench", action="store_true", default=False,
                    help="add infrabench's kernels as benchmark tests (needs pytest-benchmark)")
    group.addoption("--infrabench-suite", default="matmul", metavar="LIST",
                    help=f"comma-separated suites: {', '.join(SUITES)} (default matmul)")
    group.addoption("--infrabench-backend", default="numpy", metavar="LIST",
                    help="comma-separated backends: numpy, torch, jax (default numpy)")
    group.addoption("--infrabench-device", default="cpu", metavar="DEVICE",
                    help="device of each backend (default cpu; e.g. cuda:0 with torch)")
    group.addoption("--infrabench-profile", default="quick", choices=("quick", "standard", "full"),
                    help="which sizes: the suite's profile (default quick)")
    group.addoption("--infrabench-dtype", default=None, metavar="LIST", help="only these dtypes (e.g. fp32)")
    group.addoption("--infrabench-array-mib", type=int, default=128, metavar="MIB",
                    help="memory suite: MiB per STREAM array (default 128)")


def pytest_configure(config: Any) -> None:
    if not config.getoption("infrabench"):
        return
    import pytest

    suites = [s.strip() for s in config.getoption("infrabench_suite").split(",") if s.strip()]
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise pytest.UsageError(f"--infrabench-suite {unknown[0]!r}: the plugin runs {', '.join(SUITES)}")
    if not config.pluginmanager.hasplugin("benchmark"):
        raise pytest.UsageError("--infrabench needs pytest-benchmark (pip install pytest-benchmark)")


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    """Append the cases module's tests (parametrised in pytest_cases.pytest_generate_tests)."""
    if not config.getoption("infrabench"):
        return
    import pytest

    module = pytest.Module.from_parent(session, path=CASES)
    items.extend(session.genitems(module))
