"""The benchmark harness (tests/bench, `make bench`) works: one tiny run prints every figure of its report.

A test of the tool, not of tocsin's speed: no figure is compared with anything.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.e2e

FIGURES = [
    "alerts/s accepted (C=8)",
    "requests/s accepted",
    "ack latency p50 ms (C=8)",
    "ack latency p99 ms (C=8)",
    "latency p50 ms at 1,000 alerts/s",
    "latency p99 ms at 1,000 alerts/s",
    "non-2xx (all runs)",
    "server CPU-s per 1,000 alerts",
    "peak RSS MB (server)",
    "wrk CPU, % of one core",
    "generator CPU, % of one core",
]


def test_a_quick_bench_run_prints_the_figures() -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk not found: install Debian's wrk (.ci/run does)")
    args = ["--quick", "--only", "sqlite", "-d", "1", "--warmup", "0", "-D", "200", "-C", "8", "--rate", "1000"]
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "sqlite run 1:" in output, output  # the raw per-run lines
    for figure in FIGURES:
        match = re.search(rf"^  {re.escape(figure)}\s+(\S+)$", output, re.MULTILINE)
        assert match is not None, f"no figure line {figure!r} in:\n{output}"
        assert match.group(1) != "-", f"{figure!r} has no value:\n{output}"
    accepted = re.search(r"^  alerts/s accepted \(C=8\)\s+([\d,]+)$", output, re.MULTILINE)
    assert accepted is not None, output
    assert int(accepted.group(1).replace(",", "")) > 0, output
    assert re.search(r"^  non-2xx \(all runs\)\s+0$", output, re.MULTILINE), output


def test_the_large_part_builds_its_incident_and_times_each_step_on_both_stores() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--only", "large", "--large-alerts", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for store in ("sqlite", "redis"):
        assert f"large {store}: built an incident of 300 firing alerts" in output, output
    steps = re.findall(r"^    (.+?): [\d,]+ ms, max event-loop lag \d+ ms \(longest GC pause \d+ ms\)", output, re.M)
    assert steps == 2 * [
        "escalation timer fires",
        "acknowledge (API answer)",
        "reminder timer fires",
        "GET the incident",
        "list acknowledged incidents",
    ], output
    assert output.count("HTTP 200, acknowledged, 300 alerts") == 2, output
