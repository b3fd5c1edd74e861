"""The report of a real quick run, opened in headless Chromium: no console error, every chart drawn, the
verdict and scorecard visible, nothing from a hostile run file executed. A screenshot is kept in
test-artifacts/ (git-ignored) at the repository root.

Needs Debian's chromium (/usr/bin/chromium) and the playwright Python package (never `playwright install`).
Without them the tests skip, except under CI (CI=true), where they fail instead.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from conftest import run_cli

pytestmark = pytest.mark.slow  # the quick loop (-m "not slow") skips these

CHROMIUM = Path(os.environ.get("INFRABENCH_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_ATTR = '"><img src=x onerror=alert(1)>'


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser():
    why = _browser_missing()
    if why:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser tests must run in CI: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    """A real quick run on this machine (numpy, matmul and memory suites)."""
    out = tmp_path_factory.mktemp("run")
    proc = run_cli("run", "--suite", "matmul,memory", "--backend", "numpy", "--profile", "quick", "--out", str(out),
                   timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return next(out.glob("*/run.json"))


def _open(browser, html_path: Path):
    """Load a report; return (page, console errors, page errors, dialogs, requests that left file://)."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors, page_errors, dialogs, outside = [], [], [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page_errors.append(str(e)))

    def on_dialog(d):
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
    page.goto(html_path.resolve().as_uri(), wait_until="load")
    return page, errors, page_errors, dialogs, outside


def test_report_of_a_real_run_renders_in_chromium(browser, quick_run: Path, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    proc = run_cli("report", str(quick_run), "-o", str(html))
    assert proc.returncode == 0, proc.stderr
    page, errors, page_errors, dialogs, outside = _open(browser, html)
    try:
        assert errors == [] and page_errors == [] and dialogs == []
        assert outside == [], f"the report fetched something outside the file: {outside}"
        svgs = page.locator("figure > svg")
        assert svgs.count() >= 3  # matmul chart, sweep, baselines, roofline
        for i in range(svgs.count()):
            box = svgs.nth(i).bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0, f"chart {i} not drawn"
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.complete ? e.naturalWidth : 0)")
        assert all(w > 0 for w in widths), widths
        assert page.locator("#verdict").is_visible()
        verdict = page.locator("#verdict").inner_text()
        assert "infrastructure" in verdict
        assert page.locator("#scorecard table").is_visible()
        for factor in ("Processing power", "Memory and data handling", "Scalability", "Software"):
            assert page.locator("#scorecard").get_by_text(factor, exact=True).is_visible()
        assert page.locator("#baselines table.comparison").is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "report-quick-run.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
    finally:
        page.close()


def _hostile(run: dict) -> dict:
    bad = copy.deepcopy(run)
    for i, b in enumerate(bad["benchmarks"]):
        text = HOSTILE_SCRIPT if i % 2 == 0 else HOSTILE_ATTR
        b["fullname"] = f"matmul/square[{text}{i}]/numpy/cpu/fp32"
        b["name"] = f"square[{text}{i}]"
        b["extra_info"]["infrabench"]["reason"] = text
    profile = bad["machine_info"]["infrabench"]
    profile["host"]["hostname"] = HOSTILE_ATTR
    profile["cpu"]["model_name"] = HOSTILE_SCRIPT
    bad["infrabench"]["run_id"] = HOSTILE_ATTR
    bad["infrabench"].setdefault("warnings", []).append(HOSTILE_SCRIPT)
    return bad


def test_hostile_run_file_executes_nothing_and_shows_text_escaped(browser, quick_run: Path, tmp_path: Path) -> None:
    bad_file = tmp_path / "hostile.json"
    bad_file.write_text(json.dumps(_hostile(json.loads(quick_run.read_text()))))
    html = tmp_path / "hostile.html"
    proc = run_cli("report", str(bad_file), "-o", str(html))
    assert proc.returncode == 0, proc.stderr
    page, errors, page_errors, dialogs, outside = _open(browser, html)
    try:
        assert dialogs == [], f"a script ran: {dialogs}"
        assert page_errors == [] and outside == []
        assert page.locator("script").count() == 0
        assert page.locator("img[onerror]").count() == 0
        body = page.locator("body").inner_text()
        assert HOSTILE_SCRIPT in body and HOSTILE_ATTR in body
    finally:
        page.close()
