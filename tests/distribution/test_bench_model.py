"""The weak-scaling model of bench/dist.py (the launches themselves are `make bench`'s)."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("bench_dist", os.path.join(ROOT, "bench", "dist.py"))
bench_dist = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_dist)


def test_ring_allreduce_time_has_bandwidth_and_latency_terms():
    megabyte, gigabit = 1e6, 1e9
    assert bench_dist.ring_allreduce_s(1, megabyte, gigabit) == 0.0
    # 2 processes: 2 messages, each process sends half the buffer twice
    expected = megabyte * 8 / gigabit + 2 * bench_dist.NETWORK_LATENCY_S
    assert bench_dist.ring_allreduce_s(2, megabyte, gigabit) == pytest.approx(expected)
    # the bandwidth term tends to 2 x bytes / bandwidth
    many = (
        bench_dist.ring_allreduce_s(1000, megabyte, gigabit) - 1998 * bench_dist.NETWORK_LATENCY_S
    )
    assert many == pytest.approx(2 * megabyte * 8 / gigabit, rel=1e-2)


def test_weak_scaling_finds_where_communication_passes_ten_percent():
    # a slow step hides a fast network's allreduce for many processes, not a slow one's
    fast = bench_dist.weak_scaling(step_s=0.1, nbytes=1e6, bits_per_s=10e9)
    slow = bench_dist.weak_scaling(step_s=0.1, nbytes=1e6, bits_per_s=1e9)
    assert slow["first_process_count_over_10pct"] < fast["first_process_count_over_10pct"]
    p = fast["first_process_count_over_10pct"]
    for count, over in ((p - 1, False), (p, True)):
        comm = bench_dist.ring_allreduce_s(count, 1e6, 10e9)
        assert (comm > 0.1 * (0.1 + comm)) is over
    # a batch of that many rows makes the bandwidth term 1/9 of the step's computing
    rows = fast["batch_per_process_for_10pct"]
    assert rows == int(bench_dist.BATCH * 9 * (2 * 1e6 * 8 / 10e9) / 0.1) + 1
