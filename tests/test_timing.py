"""The timing harness: syncs asynchronous work, calibrates sample length, keeps raw samples."""

from __future__ import annotations

import statistics
import time

import pytest
from infrabench.suites.timing import CudaEventClock, TimingConfig, WallClock, measure


class FakeAsyncDevice:
    """A device whose work runs only when synchronised, like a CUDA stream: calls just enqueue."""

    def __init__(self, seconds_per_call: float):
        self.seconds_per_call = seconds_per_call
        self.queued = 0

    def launch(self, _i: int) -> int:
        self.queued += 1
        return self.queued

    def synchronize(self, _outputs=None) -> None:
        deadline = time.perf_counter() + self.queued * self.seconds_per_call
        while time.perf_counter() < deadline:
            pass
        self.queued = 0


FAST = TimingConfig(warmup_s=0.01, min_sample_s=2e-3, rounds=5, budget_s=2.0)


def test_harness_includes_asynchronous_work_in_each_sample() -> None:
    device = FakeAsyncDevice(seconds_per_call=200e-6)
    timing = measure(device.launch, WallClock(sync=device.synchronize), FAST)
    assert len(timing.samples_s) == 5
    # Each sample is per iteration: ~200 us of device work, not the ~0.1 us a launch costs.
    assert statistics.median(timing.samples_s) == pytest.approx(200e-6, rel=0.5)
    assert device.queued == 0


def test_without_sync_only_launches_would_be_timed() -> None:
    """The control: the same device timed without its sync looks ~1000x faster, which is the bug
    the harness exists to prevent."""
    device = FakeAsyncDevice(seconds_per_call=200e-6)
    timing = measure(device.launch, WallClock(sync=None), FAST)
    assert statistics.median(timing.samples_s) < 20e-6


def test_samples_are_calibrated_to_the_minimum_length() -> None:
    calls = []
    timing = measure(lambda i: calls.append(i), WallClock(), TimingConfig(warmup_s=0.005, min_sample_s=1e-3, rounds=3))
    assert timing.iterations > 1
    assert all(s * timing.iterations >= 1e-3 * 0.9 for s in timing.samples_s)
    assert timing.warmup_calls >= 1 and timing.first_call_s >= 0


def test_inputs_rotate_through_call_indices() -> None:
    seen = []
    measure(lambda i: seen.append(i % 3), WallClock(), TimingConfig(warmup_s=0.001, min_sample_s=1e-4, rounds=3))
    assert set(seen) == {0, 1, 2}


def test_rounds_shrink_to_the_budget_and_say_so() -> None:
    timing = measure(lambda i: time.sleep(0.02), WallClock(),
                     TimingConfig(warmup_s=0.0, min_sample_s=1e-3, rounds=50, budget_s=0.1))
    assert 3 <= len(timing.samples_s) < 50
    assert timing.notes and "rounds reduced" in timing.notes[0]


class _FakeEvent:
    """Records when it was recorded on the fake stream; elapsed_time in ms like torch.cuda.Event."""

    def __init__(self, stream, enable_timing=True):
        self.stream = stream
        self.t = None

    def record(self):
        self.t = self.stream.now()

    def elapsed_time(self, other) -> float:
        return (other.t - self.t) * 1e3


class _FakeCuda:
    """A stream with a device clock: each launch adds its duration to the device timeline."""

    def __init__(self, seconds_per_call: float):
        self.device_time = 0.0
        self.seconds_per_call = seconds_per_call
        self.syncs = 0
        stream = self

        class Event(_FakeEvent):
            def __init__(self, enable_timing=True):
                super().__init__(stream, enable_timing)

        self.Event = Event

    def now(self) -> float:
        return self.device_time

    def launch(self, _i):
        self.device_time += self.seconds_per_call

    def synchronize(self):
        self.syncs += 1


def test_cuda_clock_reads_event_times_and_syncs_once_per_measurement() -> None:
    cuda = _FakeCuda(seconds_per_call=1e-4)
    torch = type("torch", (), {"cuda": cuda})
    clock = CudaEventClock(torch)
    before = cuda.syncs
    samples = clock.rounds(cuda.launch, n=10, rounds=7)
    assert samples == pytest.approx([1e-3] * 7)
    # One sync before (drain earlier work) and one after the loop, never one per round.
    assert cuda.syncs - before == 2


def test_before_round_runs_once_per_round_outside_the_timed_region() -> None:
    rounds_seen: list[int] = []

    def setup(r: int) -> None:
        rounds_seen.append(r)
        time.sleep(0.02)  # far longer than a sample: it would dominate if it were timed

    timing = measure(lambda i: None, WallClock(), TimingConfig(warmup_s=0.001, min_sample_s=1e-4, rounds=4),
                     before_round=setup)
    assert rounds_seen == [0, 1, 2, 3]
    assert max(timing.samples_s) * timing.iterations < 0.01


def test_cuda_clock_setup_precedes_each_start_event_and_syncs_stay_two() -> None:
    cuda = _FakeCuda(seconds_per_call=1e-4)
    clock = CudaEventClock(type("torch", (), {"cuda": cuda}))

    def setup(_r: int) -> None:  # device work queued by the setup (a copy into fresh buffers) lands before start
        cuda.device_time += 5e-3

    before = cuda.syncs
    samples = clock.rounds(cuda.launch, n=10, rounds=3, before_round=setup)
    assert samples == pytest.approx([1e-3] * 3)
    assert cuda.syncs - before == 2
