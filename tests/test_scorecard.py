"""Scorecard and verdict from real and constructed runs: IT on this CPU-only machine, AI for an accelerated one."""

from __future__ import annotations

import copy
import json

import pytest
from infrabench.reports import baselines as bl
from infrabench.reports.compare_baselines import compare_run
from infrabench.reports.html import render_report
from infrabench.reports.scorecard import build_scorecard, rate

DEV_RUN = json.loads((bl.BUNDLED_DIR / "dev-2vcpu-vm.run.json").read_text())
BASELINES = bl.load_all(extra_dir=bl.BUNDLED_DIR / "none")


def _card(run):
    return build_scorecard(run, compare_run(run, BASELINES))


def test_cpu_only_vm_is_it_infrastructure_with_figures_behind_each_factor() -> None:
    card = _card(DEV_RUN)
    assert card.verdict == "it"
    assert "IT infrastructure" in card.headline and "TFLOP/s" in card.headline
    by = {f.key: f for f in card.factors}
    assert [f.key for f in card.factors] == ["processing", "memory", "scalability", "software"]
    assert by["processing"].rating == "it" and any(e.label.startswith("best matmul") for e in by["processing"].evidence)
    assert by["memory"].rating == "it" and any("STREAM triad" in e.label for e in by["memory"].evidence)
    assert by["scalability"].rating == "it" and "no accelerator" in by["scalability"].summary
    assert by["software"].rating == "it" and "torch" in by["software"].summary


def _accelerated(run: dict) -> dict:
    """The dev run re-labelled as if torch had run on an H100 at published achievable speed (no GPU here)."""
    fake = copy.deepcopy(run)
    for b in fake["benchmarks"]:
        ib = b["extra_info"]["infrabench"]
        if ib["backend"] == "torch":
            ib["device"] = "cuda:0"
            tp = ib.get("throughput") or {}
            if tp.get("unit") == "TFLOP/s":
                tp["value"] = 790.0 if ib["dtype"] == "bf16" else 50.0
            elif tp.get("unit") == "GB/s":
                tp["value"] = 3000.0
    fake["machine_info"]["infrabench"]["accelerators"] = [
        {"vendor": "nvidia", "name": "NVIDIA H100 80GB HBM3", "sku": "H100 SXM", "memory_total_bytes": 85e9,
         "peaks": []} for _ in range(8)]
    return fake


def test_accelerated_machine_is_ai_infrastructure() -> None:
    card = _card(_accelerated(DEV_RUN))
    by = {f.key: f for f in card.factors}
    assert by["processing"].rating == "ai" and by["software"].rating == "ai" and by["scalability"].rating == "ai"
    assert card.verdict == "ai" and card.headline.startswith("This machine is AI infrastructure")


def test_rating_thresholds_and_unknown() -> None:
    assert rate(None) == "unknown" and rate(0.9) == "ai" and rate(0.5) == "between" and rate(0.1) == "it"
    empty = {"benchmarks": [], "infrabench": {}}
    card = _card(empty)
    assert card.verdict == "unknown" and all(f.rating == "unknown" for f in card.factors)


@pytest.mark.slow
def test_report_shows_verdict_scorecard_and_baseline_comparison_first() -> None:
    html = render_report(DEV_RUN, BASELINES)
    i_verdict, i_card = html.index('id="verdict"'), html.index('id="scorecard"')
    i_machine = html.index('id="machine"')
    assert i_verdict < i_card < html.index('id="baselines"') < i_machine
    assert "nvidia-h100-sxm (AI)" in html and "dual-xeon-8480plus (IT)" in html
    assert "Roofline" in html and html.count("<svg") >= 4
    assert "no figure with a source" in html  # a baseline without a figure shows a dash with its reason
