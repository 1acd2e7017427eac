"""`gaodi data profile` and `gaodi data scan`: output, JSON, one-line errors and exit status."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from test_dq_support import random_mobile, random_resident_id


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("data", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def people(tmp_path):
    rng = random.Random(11)
    lines = ["name,id,phone,age"] + [f"张{i},{random_resident_id(rng)},{random_mobile(rng)},{20 + i}" for i in range(30)]
    path = tmp_path / "people.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    return path


def test_profile_text_and_json(people, tmp_path):
    text = run("profile", str(people))
    assert "GB18030" in text and "30 rows" in text and "完整性 completeness" in text
    rules = tmp_path / "rules.toml"
    rules.write_text('[columns.age]\nmax = 40\n[[rule]]\nname = "adult"\nexpr = "age >= 18"\n', encoding="utf-8")
    data = json.loads(run("profile", str(people), "--rules", str(rules), "--json"))
    assert data["rows"] == 30 and data["format"] == "csv"
    checks = {c["name"]: c for c in data["dimensions"]["accuracy"]["checks"]}
    assert (checks["rule: age <= 40"]["passed"], checks["rule: age <= 40"]["evaluated"]) == (21, 30)
    assert checks["check digit"]["passed"] == 30  # the id column is detected as resident IDs
    assert {r["name"] for r in data["rules"]} == {"age <= 40", "adult"}
    assert data["read"]["encoding"] == "GB18030"


def test_scan_text_json_and_grading(people):
    text = run("scan", str(people))
    assert "RESIDENT_ID" in text and "MOBILE" in text and "***********" in text
    data = json.loads(run("scan", str(people), "--json", "--field", "health"))
    assert data["valid_counts_by_entity"] == {"MOBILE": 30, "RESIDENT_ID": 30}
    assert data["grading_suggestion"]["open_type"] == "not_open"
    for finding in data["findings"]:
        for sample in finding["samples"]:
            assert "*" in sample


def test_bad_input_is_one_line_and_nothing_is_written(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3\n", encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(CommandError, match="line 3: expected 2 fields, found 1") as err:
        run("profile", str(path))
    assert err.value.returncode == 1 and "\n" not in str(err.value)
    assert path.read_bytes() == before
    assert "1 rows" in run("profile", str(path), "--skip-bad-rows")
    with pytest.raises(CommandError, match="no such file"):
        run("scan", str(tmp_path / "missing.csv"))
    bad_rules = tmp_path / "r.toml"
    bad_rules.write_text("[[rule]]\nexpr = 'a >'\n")
    with pytest.raises(CommandError, match="expected a value"):
        run("profile", str(path), "--skip-bad-rows", "--rules", str(bad_rules))


def test_real_command_exit_status_and_stderr(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("a,b\n1,张三\n".encode() + "2,李四\n".encode("gbk"))
    proc = subprocess.run([sys.executable, "-m", "gaodi.cli", "data", "profile", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "line 3" in lines[0] and "mixes encodings" in lines[0]
    assert "Traceback" not in proc.stderr
