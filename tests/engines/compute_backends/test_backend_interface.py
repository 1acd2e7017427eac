"""The backend interface's plain parts: job spec validation, reconciliation, log tails, the factory."""

from __future__ import annotations

import pytest

from gaodi.engines.compute.backends import (
    LOST_REASON,
    MAX_SCRIPT_BYTES,
    Backend,
    BackendError,
    BackendUnavailable,
    JobSpec,
    JobSpecError,
    JobState,
    JobStatus,
    Usage,
    get_backend,
    reconcile,
    submit_once,
)
from gaodi.engines.compute.backends.base import tail_text
from gaodi.engines.compute.backends.local import LocalBackend


def test_a_valid_spec_keeps_its_fields():
    spec = JobSpec(
        name="训练 run 1",
        script="echo hi\n",
        accelerators=2,
        cpus=4,
        memory_mb=2048,
        time_limit_s=600,
        working_dir="/data/job",
        env={"DATA_DIR": "/data", "_x1": ""},
    )
    assert (spec.accelerators, spec.cpus, spec.memory_mb, spec.time_limit_s) == (2, 4, 2048, 600)


def test_script_over_the_size_limit_is_refused_naming_the_field():
    big = "echo x\n" * (MAX_SCRIPT_BYTES // 7 + 1)
    with pytest.raises(JobSpecError) as err:
        JobSpec(name="big", script=big)
    assert err.value.field == "script"
    assert "limit of 65,536 bytes" in str(err.value)
    assert str(err.value).startswith("script:")
    # The limit counts bytes, not characters: 3 bytes per Chinese character in UTF-8.
    with pytest.raises(JobSpecError, match="script"):
        JobSpec(name="cjk", script="# " + "算" * 22000)
    JobSpec(name="cjk", script="# " + "算" * 21000)


@pytest.mark.parametrize(
    "name",
    ["1ABC", "A-B", "A B", "A=B", "", "PATH;rm", "名字", "A\nB"],
)
def test_bad_env_names_are_refused(name):
    with pytest.raises(JobSpecError) as err:
        JobSpec(name="j", script="true", env={name: "v"})
    assert err.value.field == "env"
    assert "not a valid variable name" in str(err.value)


@pytest.mark.parametrize("name", ["GAODI_JOB_ID", "SLURM_JOB_ID", "ray_address"])
def test_reserved_env_prefixes_are_refused(name):
    with pytest.raises(JobSpecError, match="reserved prefix"):
        JobSpec(name="j", script="true", env={name: "v"})


def test_env_values_must_be_text_without_nul():
    with pytest.raises(JobSpecError, match="must be text"):
        JobSpec(name="j", script="true", env={"N": 3})  # type: ignore[dict-item]
    with pytest.raises(JobSpecError, match="NUL"):
        JobSpec(name="j", script="true", env={"N": "a\x00b"})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cpus", 0, "out of range"),
        ("cpus", -4, "out of range"),
        ("cpus", 1.5, "whole number"),
        ("accelerators", -1, "out of range"),
        ("accelerators", 100000, "out of range"),
        ("memory_mb", 0, "out of range"),
        ("time_limit_s", 0, "out of range"),
        ("time_limit_s", 10**9, "out of range"),
        ("working_dir", "relative/dir", "absolute path"),
        ("name", "", "must not be empty"),
        ("name", "a\nb", "control characters"),
        ("name", "x" * 200, "over the limit"),
        ("script", "   ", "must not be empty"),
    ],
)
def test_bad_resources_and_fields_are_refused(field, value, message):
    kwargs = {"name": "j", "script": "true", field: value}
    with pytest.raises(JobSpecError) as err:
        JobSpec(**kwargs)
    assert err.value.field == field
    assert message in str(err.value)


def test_tail_text_cuts_bytes_and_drops_a_split_character():
    data = "前后".encode() + b"abc"
    assert tail_text(data, 100) == "前后abc"
    assert tail_text(data, 4) == "abc"  # the 3-byte character cut in half is dropped, not mangled
    assert tail_text(data, 6) == "后abc"
    assert tail_text(b"", 10) == ""
    assert tail_text(data, 0) == ""


def test_get_backend_builds_by_kind(tmp_path):
    assert isinstance(get_backend("local", root=tmp_path), LocalBackend)
    with pytest.raises(ValueError, match="unknown compute backend 'pbs'"):
        get_backend("pbs")


class FakeBackend(Backend):
    """A backend whose answers the test scripts: statuses by job id and a sequence of pings."""

    kind = "fake"

    def __init__(self, statuses, pings):
        self.statuses = statuses
        self.pings = list(pings)
        self.asked = []

    def submit(self, spec):
        raise NotImplementedError

    def status(self, job_id):
        self.asked.append(job_id)
        st = self.statuses[job_id]
        if isinstance(st, Exception):
            raise st
        return st

    def cancel(self, job_id):
        raise NotImplementedError

    def logs(self, job_id, tail_bytes=65536):
        raise NotImplementedError

    def usage(self, job_id):
        return Usage(None, None, 0.0, 0, 0, 0.0, 0.0)

    def ping(self):
        return self.pings.pop(0) if len(self.pings) > 1 else self.pings[0]


def test_reconcile_reports_what_changed_while_the_platform_was_away():
    backend = FakeBackend(
        {
            "1": JobStatus(JobState.COMPLETED, 0),
            "2": JobStatus(JobState.RUNNING),
            "3": JobStatus(JobState.FAILED, 137, "out of memory", "OUT_OF_MEMORY"),
            "4": JobStatus(JobState.UNKNOWN, None, "no such job"),
            "5": JobStatus(JobState.CANCELLED),
        },
        pings=[True],
    )
    known = {
        "1": JobState.RUNNING,
        "2": JobState.PENDING,
        "3": JobStatus(JobState.RUNNING),
        "4": "running",
        "5": JobState.COMPLETED,  # terminal: not asked about
    }
    changes = {c.job_id: c for c in reconcile(known, backend)}
    assert set(changes) == {"1", "2", "3", "4"}
    assert changes["1"].after.state is JobState.COMPLETED and changes["1"].before is JobState.RUNNING
    assert changes["2"].after.state is JobState.RUNNING
    assert changes["3"].after.reason == "out of memory"
    assert changes["4"].after.state is JobState.FAILED
    assert changes["4"].after.reason.startswith(LOST_REASON)
    assert "5" not in backend.asked
    # Unchanged jobs give no change.
    assert reconcile({"2": JobState.RUNNING}, backend) == []


def test_reconcile_with_the_backend_down_changes_nothing_and_raises():
    backend = FakeBackend({"1": JobStatus(JobState.UNKNOWN)}, pings=[False])
    with pytest.raises(BackendUnavailable):
        reconcile({"1": JobState.RUNNING}, backend)
    assert backend.asked == []


def test_reconcile_never_declares_a_job_lost_unless_the_backend_confirms_it_is_up():
    # Up for the first ping, gone when asked to confirm the unknown job: no verdict.
    backend = FakeBackend({"1": JobStatus(JobState.UNKNOWN)}, pings=[True, False])
    with pytest.raises(BackendUnavailable, match="reconcile again later"):
        reconcile({"1": JobState.RUNNING}, backend)


def test_reconcile_propagates_unavailability_mid_way():
    backend = FakeBackend(
        {"1": JobStatus(JobState.COMPLETED), "2": BackendUnavailable("controller down")}, pings=[True]
    )
    with pytest.raises(BackendUnavailable, match="controller down"):
        reconcile({"1": JobState.RUNNING, "2": JobState.RUNNING}, backend)


class NamedBackend(FakeBackend):
    """Holds jobs by name; `lost` submissions go through but their answer is lost."""

    def __init__(self, lost=0, lookup_down=False):
        super().__init__({}, pings=[True])
        self.jobs: list[tuple[str, str]] = []
        self.lost = lost
        self.lookup_down = lookup_down

    def submit(self, spec):
        job_id = str(100 + len(self.jobs))
        self.jobs.append((job_id, spec.name))
        if self.lost:
            self.lost -= 1
            raise BackendUnavailable("sbatch did not answer", maybe_submitted=True)
        return job_id

    def find(self, name):
        if self.lookup_down:
            raise BackendUnavailable("controller down")
        return [job_id for job_id, n in self.jobs if n == name]


def test_submit_once_adopts_a_job_whose_answer_was_lost_instead_of_submitting_it_again():
    backend = NamedBackend(lost=1)
    spec = JobSpec(name="gaodi-job-7-abcd1234", script="true\n")
    with pytest.raises(BackendUnavailable) as err:
        submit_once(backend, spec, look_first=False)
    assert err.value.maybe_submitted
    assert submit_once(backend, spec, look_first=True) == ("100", True)
    assert backend.jobs == [("100", spec.name)]  # exactly one job
    # Nothing found: submitted; and a look-up that cannot be done submits nothing.
    other = JobSpec(name="gaodi-job-8-abcd1234", script="true\n")
    assert submit_once(backend, other, look_first=True) == ("101", False)
    backend.lookup_down = True
    with pytest.raises(BackendUnavailable, match="controller down"):
        submit_once(backend, JobSpec(name="gaodi-job-9-x", script="true\n"), look_first=True)
    assert len(backend.jobs) == 2


def test_a_backend_that_cannot_look_names_up_says_so():
    with pytest.raises(BackendError, match="cannot look jobs up by name"):
        FakeBackend({}, pings=[True]).find("x")
