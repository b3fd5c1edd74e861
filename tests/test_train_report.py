"""The training section of the HTML report: per-workload table, compile amortisation, chart, escaping."""

from __future__ import annotations

from infrabench.reports.html import render_report
from infrabench.reports.section_train import amortisation
from infrabench.suites.result import BenchResult

from infrabench.runfile import build_run


def _train(backend: str, mode: str, step_s: float, device: str = "cpu", compile_s: float | None = None,
           status: str = "ok", reason: str | None = None) -> BenchResult:
    steps = [step_s * f for f in (1.0, 1.1, 0.9, 1.05, 0.95)]
    extra = {"model": "mlp", "mode": mode, "loss_first": 2.3, "loss_last": 0.4, "achieved_tflops": 0.01,
             "mfu_pct_of_peak": 6.0, "step_time_p50_s": step_s, "step_time_p90_s": step_s * 1.1,
             "step_time_p99_s": step_s * 1.1, "samples_per_s": 32 / step_s, "compile_s": compile_s,
             "first_step_s": (compile_s or 0) + step_s, "peak_memory_bytes": 1e8}
    return BenchResult("train", "mlp", backend, device, "fp32", {"mode": mode, "batch": 32}, status=status,  # type: ignore[arg-type]
                       reason=reason, samples_s=steps if status == "ok" else [], iterations=1,
                       work={"samples": 32.0}, compile_s=compile_s, extra=extra)


def _html(results: list[BenchResult]) -> str:
    run = build_run(results, {}, {"suites": ["train"]}, {}, False, "test-run", "run.journal.jsonl", commit={})
    return render_report(run)


def test_amortisation_is_compile_time_over_the_time_saved_per_step():
    steps, text = amortisation(10.0, 0.03, 0.01)
    assert round(steps) == 500 and "500 steps" in text
    assert amortisation(10.0, 0.01, 0.02)[0] is None and "never" in amortisation(10.0, 0.01, 0.02)[1]
    assert amortisation(None, 0.01, 0.02) == (None, "")


def test_section_shows_every_backend_the_ratio_and_the_step_time_chart():
    results = [_train("torch", "eager", 0.03), _train("torch", "compile", 0.01, compile_s=10.0),
               _train("jax", "jit", 0.02, device="cpu:0"), _train("numpy", "numpy", 0.05),
               _train("numpy", "numpy", 0.05, status="failed", reason="loss did not fall <script>x</script>")]
    results[-1].dtype = "bf16"
    html = _html(results)
    section = html[html.index('<section id="train">'):]
    section = section[:section.index("</section>")]
    for label in ("torch eager", "torch compile", "jax jit", "numpy"):
        assert f"<td>{label}</td>" in section
    assert "pays for itself after 500 steps" in section
    assert "<svg" in section and "step time (ms" in section
    assert "torch ÷ jax" in section and "<td>0.667</td>" in section  # eager 0.03 s per step vs jit 0.02 s
    assert "&lt;script&gt;x&lt;/script&gt;" in section and "<script>x" not in html
    assert "Step time per sample" in section
