"""`gaodi compute simulate` as a user runs it: a separate process, real exit codes, no database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TIMEOUT = 120

SMALL = """job_id,submission_time,duration,num_gpu
a,0,3600,4
b,10,600,1
c,20,7200,2
d,30,60,1
e,4000,1800,4
f,4100,300,2
"""


def gaodi(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GAODI_ENV", "GAODI_SECRET_KEY")}
    # The var dir does not exist: the command must not need a database or create one.
    env.update(GAODI_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="gaodi.config.settings")
    return subprocess.run([sys.executable, "-m", "gaodi.cli", "compute", "simulate", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def test_simulate_prints_json_metrics_for_a_small_trace(tmp_path: Path) -> None:
    trace = tmp_path / "small.csv"
    trace.write_text(SMALL, encoding="utf-8")
    runs = {}
    for policy in ("fifo", "slurm", "platform"):
        r = gaodi(tmp_path, "--trace", str(trace), "--policy", policy, "--capacity", "4", "--seed", "1", "--json")
        assert r.returncode == 0, r.stderr
        runs[policy] = json.loads(r.stdout)
    m = runs["platform"]
    assert m["policy"] == "platform" and m["jobs"] == 6 and m["capacity"] == 4 and m["capacity_source"] == "given"
    for key in ("avg_jct", "p95_jct", "avg_wait", "p95_wait", "utilization", "sme_gpu_hour_share", "sme_wait_share",
                "jain_service", "subsidy_spent", "sme_floor_attainment"):
        assert key in m
    assert m["avg_jct"] >= (3600 + 600 + 7200 + 60 + 1800 + 300) / 6
    # FIFO leaves the 1-accelerator jobs behind the 2-accelerator one; backfill does not.
    assert runs["fifo"]["avg_wait"] > runs["slurm"]["avg_wait"]
    assert not (tmp_path / "var" / "gaodi.sqlite3").exists()


def test_simulate_human_output_and_shipped_trace_name(tmp_path: Path) -> None:
    r = gaodi(tmp_path, "--trace", "elasticflow/cluster10", "--policy", "platform")
    assert r.returncode == 0, r.stderr
    assert "cluster10 (260 jobs)" in r.stdout
    assert "16 accelerators (sized to 90% load" in r.stdout
    assert "Jain's index" in r.stdout and "subsidy spent" in r.stdout
    assert "preemptions" in r.stdout and "lost accelerator-hours" in r.stdout


def test_simulate_charges_the_preemption_cost_it_is_given(tmp_path: Path) -> None:
    def run(*extra: str) -> dict:
        r = gaodi(tmp_path, "--trace", "elasticflow/cluster10", "--policy", "platform", "--json", *extra)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    cheap = run("--checkpoint-interval", "60", "--restart-overhead", "0")
    dear = run("--checkpoint-interval", "7200", "--restart-overhead", "1800")
    assert cheap["preemptions"] > 0
    # The same trace and seed: dearer preemptions lose more accelerator-hours per preemption.
    assert dear["lost_accelerator_hours"] / max(dear["preemptions"], 1) > \
        cheap["lost_accelerator_hours"] / cheap["preemptions"]
    r = gaodi(tmp_path, "--trace", "elasticflow/cluster10", "--policy", "platform", "--restart-overhead", "-1")
    assert r.returncode == 1 and "--restart-overhead" in r.stderr and "non-negative" in r.stderr


def test_simulate_refuses_bad_input_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("job_id,submission_time,duration\n1,0,5\n", encoding="utf-8")
    r = gaodi(tmp_path, "--trace", str(bad), "--policy", "fifo")
    assert r.returncode == 1 and "missing column(s) num_gpu" in r.stderr
    bad.write_text("job_id,submission_time,duration,num_gpu\n1,0,-5,1\n", encoding="utf-8")
    r = gaodi(tmp_path, "--trace", str(bad), "--policy", "fifo")
    assert r.returncode == 1 and "line 2: duration: is negative" in r.stderr
    bad.write_text("job_id,submission_time,duration,num_gpu\n1,0,five,1\n", encoding="utf-8")
    r = gaodi(tmp_path, "--trace", str(bad), "--policy", "fifo")
    assert r.returncode == 1 and "not a number: 'five'" in r.stderr
    r = gaodi(tmp_path, "--trace", str(tmp_path / "none.csv"), "--policy", "fifo")
    assert r.returncode == 1 and "no such file" in r.stderr
    good = tmp_path / "good.csv"
    good.write_text(SMALL, encoding="utf-8")
    r = gaodi(tmp_path, "--trace", str(good), "--policy", "fifo", "--capacity", "2")
    assert r.returncode == 1 and "below the largest job (4 accelerators)" in r.stderr
    r = gaodi(tmp_path, "--trace", str(good), "--policy", "lottery")
    assert r.returncode == 2 and "invalid choice" in r.stderr
