"""The data-loading report section: the verdict in words, the tables and both charts, text escaped."""

from __future__ import annotations

from pathlib import Path

import pytest
from infrabench.reports.html import write_report
from infrabench.suites.backends import get_backend
from infrabench.suites.dataload.profiles import AccelProfile
from infrabench.suites.dataload.suite import run_suite
from infrabench.suites.options import SuiteOptions

from infrabench.runfile import build_run


@pytest.mark.slow
def test_section_renders_verdict_and_charts(tmp_path: Path) -> None:
    results: list = []
    evil = AccelProfile("<script>x</script>", "w<b>", "acc", "memmap", 4, 0.5, "test")
    opts = SuiteOptions(profile="quick", machine={"cpu": {"usable_cpus": 2}},
                        suite_args={"data_dir": str(tmp_path / "d"), "formats": ["memmap"],
                                    "profiles": [evil.name], "extra_profiles": [evil.to_dict()]})
    run_suite(get_backend("numpy"), opts, results.append)
    run = build_run(results, {}, {"suites": ["dataload"]}, {}, False, "r1", "j").to_dict()
    verdict = run["infrabench"]["verdicts"]["dataload"]
    entry = verdict["profiles"][evil.name]
    assert {"n_max", "required_samples_per_s", "supplied_samples_per_s", "bottleneck", "headroom"} <= set(entry)
    html = Path(write_report(run, tmp_path / "report.html")).read_text()
    assert 'id="dataload"' in html and "bottleneck:" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    section = html[html.index('id="dataload"'):]
    assert section.count("<svg") >= 2  # samples/s vs workers, AU vs N
