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


def bench(args: list[str]) -> str:
    """The harness run in a subprocess, as `make bench` runs it: its output, once it exited 0."""
    if shutil.which("wrk") is None:
        pytest.fail("wrk not found: install Debian's wrk (.ci/run does)")
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
    return output


def assert_figures(output: str, figures: list[str]) -> list[str]:
    """Each figure line is printed with a value; returns those values (of the first column)."""
    values = []
    for figure in figures:
        match = re.search(rf"^  {re.escape(figure)}\s+(\S+)(?:\s|$)", output, re.MULTILINE)
        assert match is not None, f"no figure line {figure!r} in:\n{output}"
        assert match.group(1) != "-", f"{figure!r} has no value:\n{output}"
        values.append(match.group(1))
    return values


def test_a_quick_bench_run_prints_the_figures() -> None:
    args = ["--quick", "--only", "sqlite,resend", "-d", "1", "--warmup", "0", "-D", "200", "-C", "8", "--rate", "1000"]
    output = bench(args)
    assert "sqlite run 1:" in output, output  # the raw per-run lines
    assert_figures(output, FIGURES)
    accepted = re.search(r"^  alerts/s accepted \(C=8\)\s+([\d,]+)$", output, re.MULTILINE)
    assert accepted is not None, output
    assert int(accepted.group(1).replace(",", "")) > 0, output
    assert re.search(r"^  non-2xx \(all runs\)\s+0$", output, re.MULTILINE), output


def test_the_storm_preset_sends_new_alerts_to_fresh_stores_and_prints_the_ratios() -> None:
    if shutil.which("prometheus-alertmanager") is None:
        pytest.fail("prometheus-alertmanager not found: install Debian's prometheus-alertmanager (.ci/run does)")
    args = ["--storm", "--quick", "-d", "1", "-D", "400", "-S", "4", "-C", "8", "--max-passes", "2"]
    output = bench(args)
    for target in ("sqlite", "redis", "alertmanager"):
        # Two passes (the run is shorter than -d 1 s only if a pass is): each of its 400 alerts new each time.
        match = re.search(
            rf"^  {target} storm run 1: .*; (\d) fresh-store pass\(es\), ([\d,]+) new alerts", output, re.M
        )
        assert match is not None, output
        assert int(match.group(2).replace(",", "")) == 400 * int(match.group(1)), output
    rate, _, failed, cpu = assert_figures(
        output,
        [
            "new alerts/s accepted (C=8)",
            "ack latency p99 ms (C=8)",
            "non-2xx + errors (all runs)",
            "server CPU-s per 1,000 new alerts",
            "  of which redis-server",
            "alerts/s, tocsin / Alertmanager",
            "CPU per alert, tocsin / Alertmanager",
        ],
    )[:4]
    assert float(rate.replace(",", "")) > 0, output
    assert float(cpu) > 0, output
    assert failed == "0", output
    targets = assert_figures(
        output,
        [
            "storm sqlite: alerts/s vs Alertmanager",
            "storm sqlite: CPU per alert vs Alertmanager (s per 1,000)",
            "storm redis: alerts/s vs Alertmanager",
        ],
    )
    assert all(t.endswith("x") for t in targets), output


def test_the_changing_preset_measures_changed_re_sends_beside_alertmanager() -> None:
    if shutil.which("prometheus-alertmanager") is None:
        pytest.fail("prometheus-alertmanager not found: install Debian's prometheus-alertmanager (.ci/run does)")
    args = ["--changing", "--only", "sqlite,alertmanager", "--quick", "-d", "1", "--warmup", "0", "-D", "200"]
    output = bench([*args, "-S", "4", "-C", "8", "--rate", "1000"])
    assert "annotations change every pass" in output, output
    assert re.search(r"^changing: throughput and latency, changed re-sends", output, re.M), output
    accepted, ratio = assert_figures(output, ["alerts/s accepted (C=8)", "alerts/s, tocsin / Alertmanager"])
    assert int(accepted.replace(",", "")) > 0, output
    assert ratio.endswith("x"), output
    assert assert_figures(output, ["changing sqlite: alerts/s vs Alertmanager"])[0].endswith("x"), output


def test_the_large_part_builds_its_incident_and_times_each_step_on_both_stores() -> None:
    output = bench(["--only", "large", "--large-alerts", "300"])
    for store in ("sqlite", "redis"):
        assert f"large {store}: built an incident of 300 firing alerts" in output, output
    steps = re.findall(r"^    (.+?): [\d,]+ ms, max event-loop lag \d+ ms \(longest GC pause \d+ ms\)", output, re.M)
    assert steps == 2 * [
        "escalation timer fires",
        "acknowledge (API answer)",
        "reminder timer fires",
        "GET the incident",
        "list acknowledged incidents",
        "board incident page",
    ], output
    assert output.count("HTTP 200, acknowledged, 300 alerts") == 2, output
    assert len(re.findall(r"board incident page: .*; HTTP 200, [\d.]+ MB of HTML; RSS after ", output)) == 2, output
    # Nothing of the incident's alerts is kept once a step is over.
    assert len(re.findall(r"; RSS after [\d,]+ MB, 0 alerts alive$", output, re.M)) == 12, output
    for store in ("sqlite", "redis"):  # the Targets table carries the stall bound beside the figure
        label = rf"large {store}: longest loop stall, 300 alerts acknowledged, timers fired"
        assert re.search(rf"^  {label}\s+\d+ ms\s+<= 50 ms", output, re.M), output
