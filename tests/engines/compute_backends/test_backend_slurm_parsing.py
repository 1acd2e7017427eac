"""The Slurm backend's reading of Slurm's answers, with recorded command output (no cluster needed).

The outputs below are what Slurm 22.05 prints for these commands and formats; the real cluster
tests in test_backend_slurm.py run the same code against live daemons.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest

from gaodi.engines.compute.backends import (
    BackendError,
    BackendUnavailable,
    JobNotFound,
    JobRejected,
    JobSpec,
    JobSpecError,
    JobState,
)
from gaodi.engines.compute.backends.slurm import (
    SlurmBackend,
    map_state,
    parse_duration,
    parse_exit_code,
    parse_tres,
)

CTLD_DOWN = "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n"
DBD_DOWN = (
    "sacct: error: slurm_persist_conn_open_without_init: failed to open persistent connection to "
    "host:localhost:6819: Connection refused\nsacct: error: Problem talking to the database: Connection refused\n"
)


class Script:
    """A fake runner: answers by command name from a table, recording every call."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv, stdin, timeout):
        self.calls.append((list(argv), stdin))
        answer = self.answers[argv[0]]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(argv)
        return answer


def backend(answers, **kw):
    runner = Script(answers)
    return SlurmBackend(work_root="/tmp/gaodi-slurm-parsing", runner=runner, **kw), runner


def sacct_line(job_id, state, exit_code="0:0", start="1700000000", end="1700000100", elapsed="100",
               cpus="4", tres="billing=4,cpu=4,gres/gpu=2,mem=4G,node=1", total_cpu="01:02.500",
               work_dir="/work/j"):
    return "|".join([job_id, state, exit_code, start, end, elapsed, cpus, tres, total_cpu, work_dir])


SPEC = JobSpec(name="train", script="#SBATCH --gres=gpu:8\npython train.py\n", accelerators=2, cpus=4,
               memory_mb=4096, time_limit_s=90, env={"EPOCHS": "3"})


def test_submit_builds_the_sbatch_command_and_reads_the_parsable_id():
    b, runner = backend({"sbatch": (0, "4242;gaodi\n", "")}, partition="debug", account="ent42")
    assert b.submit(SPEC) == "4242"
    argv, stdin = runner.calls[0]
    assert argv[:2] == ["sbatch", "--parsable"]
    assert "--job-name=train" in argv
    assert "--cpus-per-task=4" in argv and "--ntasks=1" in argv and "--nodes=1" in argv
    assert "--mem=4096M" in argv
    assert "--time=2" in argv  # 90 s rounds up to Slurm's whole minutes
    assert "--gres=gpu:2" in argv
    assert "--partition=debug" in argv and "--account=ent42" in argv
    assert any(a.startswith("--chdir=/tmp/gaodi-slurm-parsing/train-") for a in argv)
    # The user's #SBATCH line comes after a command, where sbatch no longer reads directives.
    lines = stdin.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert not lines[1].startswith("#")
    assert lines[2] == "#SBATCH --gres=gpu:8"


def test_submit_passes_a_clean_environment(monkeypatch):
    seen = {}

    def fake_run(argv, **kw):
        seen.update(kw["env"])
        return subprocess.CompletedProcess(argv, 0, "7\n", "")

    monkeypatch.setenv("GAODI_SECRET_KEY", "do-not-leak")
    monkeypatch.setattr(subprocess, "run", fake_run)
    assert SlurmBackend(work_root="/tmp/gaodi-slurm-parsing").submit(SPEC) == "7"
    assert seen["EPOCHS"] == "3"
    assert seen["GAODI_ACCELERATORS"] == "2"
    assert seen["SLURM_TIME_FORMAT"] == "%s"
    assert "GAODI_SECRET_KEY" not in seen


@pytest.mark.parametrize(
    "stderr",
    [
        "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)\n",
        "sbatch: error: Batch job submission failed: Slurm temporarily unable to accept job, sleeping and retrying\n",
        "sbatch: error: Invalid user for SlurmUser slurm, ignored\nsbatch: error: Munge encode failed: Failed to access \"/run/munge/munge.socket.2\"\n",
        "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n",
    ],
)
def test_submit_with_the_controller_away_is_unavailable_not_rejected(stderr):
    b, _ = backend({"sbatch": (1, "", stderr), "squeue": (1, "", CTLD_DOWN)})
    with pytest.raises(BackendUnavailable) as err:
        b.submit(SPEC)
    assert not isinstance(err.value, JobRejected)


@pytest.mark.parametrize(
    "stderr",
    [
        "sbatch: error: Batch job submission failed: Invalid partition name specified\n",
        "sbatch: error: Batch job submission failed: Requested node configuration is not available\n",
        "sbatch: error: Batch job submission failed: Invalid generic resource (gres) specification\n",
    ],
)
def test_submit_refused_by_slurm_is_rejected(stderr):
    b, _ = backend({"sbatch": (1, "", stderr)})
    with pytest.raises(JobRejected, match="Slurm refused the job"):
        b.submit(SPEC)


def test_a_submission_that_timed_out_may_have_been_submitted():
    # sbatch sent the job and its answer was lost; the controller does not answer the look-up either.
    b, runner = backend({"sbatch": subprocess.TimeoutExpired(["sbatch"], 30),
                         "squeue": subprocess.TimeoutExpired(["squeue"], 30)})
    with pytest.raises(BackendUnavailable) as err:
        b.submit(SPEC)
    assert err.value.maybe_submitted
    assert [argv[0] for argv, _stdin in runner.calls] == ["sbatch", "squeue"]  # it looked before giving up
    b, _ = backend({"squeue": subprocess.TimeoutExpired(["squeue"], 30)})
    with pytest.raises(BackendUnavailable) as err:
        b.status("1")
    assert not err.value.maybe_submitted


def test_a_lost_answer_is_looked_up_by_the_jobs_name():
    name = SPEC.name
    b, runner = backend({"sbatch": subprocess.TimeoutExpired(["sbatch"], 30),
                         "squeue": (0, f"4243|{name}\n4240|{name}-other\n", ""),
                         "sacct": (0, f"4243|{name}\n", "")})
    assert b.submit(SPEC) == "4243"  # found under its name: not submitted again
    squeue = next(argv for argv, _ in runner.calls if argv[0] == "squeue")
    assert f"--name={name}" in squeue and "--states=all" in squeue


@pytest.mark.parametrize(("stderr", "maybe"), [
    ("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n", True),
    ("sbatch: error: slurm_receive_msg: Zero Bytes were transmitted or received\n", True),
    ("sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)\n", False),
])
def test_whether_a_failed_sbatch_may_have_submitted(stderr, maybe):
    b, runner = backend({"sbatch": (1, "", stderr), "squeue": (0, "", ""), "sacct": (0, "", "")})
    with pytest.raises(BackendUnavailable) as err:
        b.submit(SPEC)
    assert err.value.maybe_submitted is maybe
    asked = [argv[0] for argv, _ in runner.calls]
    assert asked == (["sbatch", "squeue", "sacct"] if maybe else ["sbatch"])


def test_find_joins_the_controller_and_accounting_oldest_first():
    b, runner = backend({"squeue": (0, "12|train\n9|train\n13|train-2\n", ""),
                         "sacct": (0, "7|train\n9|train\n", "")})
    assert b.find("train") == ["7", "9", "12"]
    sacct = next(argv for argv, _ in runner.calls if argv[0] == "sacct")
    assert "--name=train" in sacct and "-X" in sacct and any(a.startswith("--starttime=") for a in sacct)
    b, _ = backend({"squeue": (0, "", ""), "sacct": (1, "", DBD_DOWN)})
    with pytest.raises(BackendUnavailable):  # accounting must answer too: no guess
        b.find("train")
    with pytest.raises(JobSpecError):  # --name takes a comma-separated list
        b.find("a,b")


def test_missing_slurm_commands_are_unavailable():
    b, _ = backend({"sbatch": FileNotFoundError("sbatch")})
    with pytest.raises(BackendUnavailable, match="install the Slurm client commands"):
        b.submit(SPEC)


def test_no_working_dir_and_no_work_root_is_a_spec_error():
    b = SlurmBackend(runner=Script({}))
    with pytest.raises(JobSpecError) as err:
        b.submit(JobSpec(name="j", script="true"))
    assert err.value.field == "working_dir"


def test_live_states_come_from_squeue():
    b, runner = backend({"squeue": (0, "12|PENDING|Resources|/work/j\n", "")})
    st = b.status("12")
    assert (st.state, st.backend_state) == (JobState.PENDING, "PENDING")
    assert "Resources" in st.reason
    assert [c[0][0] for c in runner.calls] == ["squeue"]


def test_finished_jobs_take_state_and_exit_code_from_accounting():
    b, _ = backend({"squeue": (1, "", "slurm_load_jobs error: Invalid job id specified\n"),
                    "sacct": (0, sacct_line("12", "TIMEOUT", "0:0") + "\n" + sacct_line("12.batch", "CANCELLED", "0:15") + "\n", "")})
    st = b.status("12")
    assert (st.state, st.backend_state, st.reason) == (JobState.FAILED, "TIMEOUT", "time limit reached")
    assert st.exit_code == 128 + 15  # from the batch step: killed by SIGTERM


def test_a_terminal_state_in_squeue_before_accounting_has_it_uses_scontrol():
    b, _ = backend({
        "squeue": (0, "12|FAILED|NonZeroExitCode|/work/j\n", ""),
        "sacct": (0, sacct_line("12", "RUNNING", end="Unknown") + "\n", ""),
        "scontrol": (0, "JobId=12 JobName=t JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 WorkDir=/w\n", ""),
    })
    st = b.status("12")
    assert (st.state, st.exit_code, st.reason) == (JobState.FAILED, 3, "exit code 3")


def test_unknown_only_when_controller_and_accounting_both_answer_without_it():
    b, _ = backend({"squeue": (1, "", "slurm_load_jobs error: Invalid job id specified\n"), "sacct": (0, "", "")})
    assert b.status("99").state is JobState.UNKNOWN
    b, _ = backend({"squeue": (1, "", "slurm_load_jobs error: Invalid job id specified\n"), "sacct": (1, "", DBD_DOWN)})
    with pytest.raises(BackendUnavailable, match="Connection refused"):
        b.status("99")
    b, _ = backend({"squeue": (1, "", CTLD_DOWN)})
    with pytest.raises(BackendUnavailable, match="Unable to contact slurm controller"):
        b.status("99")
    # Accounting says running, the controller answered and has no such job: it lost it.
    b, _ = backend({"squeue": (0, "", ""), "sacct": (0, sacct_line("99", "RUNNING", end="Unknown") + "\n", "")})
    st = b.status("99")
    assert st.state is JobState.UNKNOWN and "no longer knows" in st.reason
    # Not a Slurm job id at all.
    assert b.status("../x").state is JobState.UNKNOWN


def test_accounting_disabled_is_a_configuration_error():
    b, _ = backend({"squeue": (0, "", ""), "sacct": (1, "", "sacct: error: Slurm accounting storage is disabled\n")})
    with pytest.raises(BackendError, match="needs slurmdbd"):
        b.status("5")


def test_usage_reads_allocated_resources_from_accounting():
    b, _ = backend({"sacct": (0, sacct_line("12", "COMPLETED") + "\n" + sacct_line("12.batch", "COMPLETED") + "\n", "")})
    u = b.usage("12")
    assert u.start == datetime.fromtimestamp(1700000000, tz=UTC)
    assert u.end == datetime.fromtimestamp(1700000100, tz=UTC)
    assert (u.elapsed_s, u.cpus, u.accelerators) == (100.0, 4, 2)
    assert (u.cpu_seconds, u.accelerator_seconds) == (400.0, 200.0)
    assert u.cpu_time_used_s == pytest.approx(62.5)


def test_usage_of_a_pending_job_and_of_an_unknown_one():
    b, _ = backend({"sacct": (0, sacct_line("12", "PENDING", start="Unknown", end="Unknown", elapsed="0", tres="") + "\n", "")})
    u = b.usage("12")
    assert (u.start, u.elapsed_s, u.cpu_seconds) == (None, 0.0, 0.0)
    b, _ = backend({"sacct": (0, "", ""), "squeue": (1, "", "slurm_load_jobs error: Invalid job id specified\n")})
    with pytest.raises(JobNotFound):
        b.usage("12")


def test_cancel_of_a_finished_job_does_nothing_and_of_an_unknown_one_raises():
    b, runner = backend({"squeue": (0, "12|COMPLETED|None|/w\n", ""), "sacct": (0, sacct_line("12", "COMPLETED") + "\n", "")})
    b.cancel("12")
    assert "scancel" not in [c[0][0] for c in runner.calls]
    b, _ = backend({"squeue": (1, "", "slurm_load_jobs error: Invalid job id specified\n"), "sacct": (0, "", "")})
    with pytest.raises(JobNotFound):
        b.cancel("12")


def test_ping():
    b, _ = backend({"scontrol": (0, "Slurmctld(primary) at vm is UP\n", "")})
    assert b.ping()
    b, _ = backend({"scontrol": (1, "Slurmctld(primary) at vm is DOWN\n", "")})
    assert not b.ping()
    b, _ = backend({"scontrol": subprocess.TimeoutExpired(["scontrol"], 30)})
    assert not b.ping()


@pytest.mark.parametrize(
    ("slurm", "state", "reason"),
    [
        ("PENDING", JobState.PENDING, "waiting in the queue"),
        ("CONFIGURING", JobState.PENDING, "nodes allocated, being configured"),
        ("REQUEUED", JobState.PENDING, "requeued"),
        ("RUNNING", JobState.RUNNING, ""),
        ("COMPLETING", JobState.RUNNING, "completing"),
        ("SUSPENDED", JobState.RUNNING, "suspended"),
        ("COMPLETED", JobState.COMPLETED, ""),
        ("CANCELLED by 1000", JobState.CANCELLED, "cancelled by user id 1000"),
        ("FAILED", JobState.FAILED, "the script exited with an error"),
        ("TIMEOUT", JobState.FAILED, "time limit reached"),
        ("NODE_FAIL", JobState.FAILED, "a node failed"),
        ("OUT_OF_MEMORY", JobState.FAILED, "out of memory"),
        ("PREEMPTED", JobState.FAILED, "preempted"),
        ("BOOT_FAIL", JobState.FAILED, "a node failed to boot"),
        ("DEADLINE", JobState.FAILED, "deadline reached before it could run"),
        ("RUNNING+", JobState.RUNNING, ""),
        ("WEIRD", JobState.UNKNOWN, "unrecognised Slurm state 'WEIRD'"),
    ],
)
def test_slurm_states_map_to_ours(slurm, state, reason):
    st = map_state(slurm)
    assert (st.state, st.reason) == (state, reason)


def test_parsers():
    assert parse_exit_code("0:0") == 0
    assert parse_exit_code("3:0") == 3
    assert parse_exit_code("0:9") == 137
    assert parse_exit_code("") is None
    assert parse_duration("00:00.143") == pytest.approx(0.143)
    assert parse_duration("01:02:03") == 3723
    assert parse_duration("2-01:00:00") == 2 * 86400 + 3600
    assert parse_duration("") is None
    assert parse_tres("billing=1,cpu=2,gres/gpu:a100=2,mem=1G") == {
        "billing": "1", "cpu": "2", "gres/gpu:a100": "2", "mem": "1G"}
