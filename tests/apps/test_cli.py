"""The `gaodi` command as a user runs it: separate processes, a fresh var/ directory, real exit codes."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from gaodi.apps.core import demo

TIMEOUT = 120


def _env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GAODI_ENV", "GAODI_SECRET_KEY")}
    env.update(GAODI_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="gaodi.config.settings", PYTHONUNBUFFERED="1")
    return env


def gaodi(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gaodi.cli", *args], cwd=var_dir.parent, env=_env(var_dir),
                          capture_output=True, text=True, timeout=TIMEOUT)


def test_demo_creates_the_database_prints_logins_and_the_audit_chain_verifies(tmp_path):
    var_dir = tmp_path / "var"
    result = gaodi(var_dir, "demo", "--no-serve")
    assert result.returncode == 0, result.stderr
    db = var_dir / "gaodi.sqlite3"
    assert db.exists()
    assert list((var_dir / "media" / "filings").rglob("*.pdf"))
    out = result.stdout
    assert "100 enterprises in 16 districts" in out
    assert demo.DEMO_PASSWORD in out
    for login in demo.DEMO_LOGINS:
        assert login.username in out

    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM algorithms_algorithmfiling").fetchone()[0] >= 55
        states = {row[0] for row in conn.execute("SELECT DISTINCT state FROM algorithms_algorithmfiling")}
    assert len(states) == 9

    verified = gaodi(var_dir, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("OK: ") and "chain intact" in verified.stdout

    # Running again keeps the data; tampering with one row is caught with its id and exit status 1.
    again = gaodi(var_dir, "demo", "--no-serve")
    assert again.returncode == 0 and "already has data" in again.stdout
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE core_auditentry SET data = '{\"comment\": \"edited\"}' WHERE id = 42")
    broken = gaodi(var_dir, "audit", "verify")
    assert broken.returncode == 1
    assert "audit entry 42:" in broken.stderr and "OK:" not in broken.stdout

    # --reset starts over from an empty database: the chain is whole again.
    reset = gaodi(var_dir, "demo", "--no-serve", "--reset", "--seed", "3")
    assert reset.returncode == 0, reset.stderr
    assert "Loading demo data (seed 3)" in reset.stdout
    assert gaodi(var_dir, "audit", "verify").returncode == 0


def test_audit_without_subcommand_is_a_usage_error(tmp_path):
    result = gaodi(tmp_path / "var", "audit")
    assert result.returncode == 2 and "SUBCOMMAND" in result.stderr


def test_demo_refuses_production(tmp_path):
    env = {**_env(tmp_path / "var"), "GAODI_ENV": "production", "GAODI_SECRET_KEY": "x" * 50,
           "GAODI_ALLOWED_HOSTS": "example.org"}
    result = subprocess.run([sys.executable, "-m", "gaodi.cli", "demo", "--no-serve", "--skip-checks"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 1 and "production" in result.stderr
    assert not (tmp_path / "var" / "gaodi.sqlite3").exists()


class Server:
    """`gaodi serve` in the background, with its output collected line by line."""

    def __init__(self, var_dir: Path, *args: str) -> None:
        var_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "gaodi.cli", "serve", "--port", "0", *args],
                                     cwd=var_dir.parent, env=_env(var_dir), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.proc.poll() is not None and not any(text in line for line in self.lines):
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not printed; output:\n{''.join(self.lines)}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(") ", 1)[1].startswith("Z"))


def _wait_gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_migrates_serves_and_stops_both_processes_on_sigterm(tmp_path):
    server = Server(tmp_path / "var")
    try:
        url = server.wait_for("Gaodi is running at").split("running at ", 1)[1].strip()
        worker_pid = int(server.wait_for("Task worker: pid").split("pid ", 1)[1].split(".", 1)[0])
        with urllib.request.urlopen(url + "filings/", timeout=10) as response:  # noqa: S310 - local test server
            assert response.status == 200
            assert "算法" in response.read().decode()
        assert _pid_alive(worker_pid)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=30) == 0
        assert _wait_gone(worker_pid)
        assert any("Gaodi stopped." in line for line in server.lines)
    finally:
        server.stop()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_exits_with_status_1_when_the_worker_dies(tmp_path):
    server = Server(tmp_path / "var")
    try:
        server.wait_for("Gaodi is running at")
        worker_pid = int(server.wait_for("Task worker: pid").split("pid ", 1)[1].split(".", 1)[0])
        os.kill(worker_pid, signal.SIGKILL)
        assert server.proc.wait(timeout=30) == 1
        server.wait_for("task worker stopped")
    finally:
        server.stop()


def test_serve_reports_a_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = Server(tmp_path / "var", "--port", str(port), "--no-worker", "--no-migrate")
        try:
            assert server.proc.wait(timeout=60) == 1
            server.wait_for("already in use")
        finally:
            server.stop()
