"""Failover, as SkyPilot does it: a pool whose backend refuses a job (or cannot run here at all) passes the job
to the next feasible pool of a fresh placement (same model, count, data residency, budget cap); every
attempt is an event naming the pool and its reason; only when every feasible pool refused does the job fail,
with all reasons on the page and in the API. An outage keeps the job queued; after the configured time it
moves on, if there is somewhere to go. Billing and the quote follow the pool the job runs on. A submission
whose answer was lost is looked up by the job's unique name and never submitted twice.

The refusals are real: a local pool configured with `accelerators=0` (its machine offers none), so the local
backend refuses every job that asks for one."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from test_compute_app_support import build_compute_world, make_pool, make_site, submit, wait_until_done

from gaodi.apps.compute import actions, runners
from gaodi.apps.compute.forms import PoolForm
from gaodi.apps.compute.models import Job, JobEvent, Redemption
from gaodi.apps.core.models import PersonalAccessToken
from gaodi.engines.compute.backends import BackendUnavailable


@pytest.fixture
def compute_world(world, settings, tmp_path):
    return build_compute_world(world, settings, tmp_path)


def configure(user, pool, options: str):
    """The provider sets the pool's backend options through the pool form, as on the provider page."""
    data = {"site": str(pool.site_id), "code": pool.code, "accelerator": pool.accelerator, "count": str(pool.count),
            "per_node": str(pool.per_node), "price_per_hour": str(pool.price_per_hour), "backend": pool.backend,
            "backend_options": options, "active": "on"}
    return actions.update_pool(user, pool, PoolForm(data=data, instance=pool, provider_ids={pool.site.provider_id}))


def test_a_refusal_moves_the_job_to_the_next_pool_which_runs_and_bills_it(compute_world):
    w = compute_world
    configure(w.petra, w.pool_a, "accelerators=0")  # sh-local, the cheapest, refuses every job
    job = submit(w.alice, w.ent_a)
    assert job.pool.code == "sh-local" and job.quote["pays"] == "60.00"  # 1 × 0.5 h × 120

    job = actions.dispatch_job(job.pk)
    assert job.state == "queued" and job.pool.code == "nx-local" and job.backend == "local"
    assert job.quote["pool"]["code"] == "nx-local" and job.quote["pays"] == "90.00"  # the quote follows: 180/h
    refused = job.pool_attempts[0]
    assert (refused["pool"], refused["outcome"]) == ("sh-local", "refused")
    assert "this machine has 0" in refused["reason"]
    messages = list(JobEvent.objects.filter(job=job).values_list("message", flat=True))
    assert any("sh-local" in m and "拒绝" in m and "this machine has 0" in m for m in messages)
    assert any("改投下一个可行资源池 nx-local" in m for m in messages)
    assert job.placement["chosen"] == "nx-local" and job.placement["failover"][0]["from"] == "sh-local"

    job = actions.dispatch_job(job.pk)
    assert job.state == "pending" and job.backend_job_id
    job = wait_until_done(job)
    assert job.state == "completed", (job.reason, job.log_tail)
    bill = Redemption.objects.get(job=job)
    assert bill.pool == w.pool_b and bill.provider == w.prov_b and bill.unit_price == Decimal("180.00")
    assert bill.list_price == Decimal("3.00")  # one started minute at 180/h, billed by the pool that ran it
    assert [a["outcome"] for a in job.pool_attempts] == ["refused", "submitted"]


def test_when_every_feasible_pool_refuses_the_job_fails_with_every_reason_shown(compute_world, client):
    w = compute_world
    configure(w.petra, w.pool_a, "accelerators=0")
    configure(w.quinn, w.pool_b, "accelerators=0")
    job = actions.dispatch_job(submit(w.alice, w.ent_a).pk)
    job = actions.dispatch_job(job.pk)
    assert job.state == "failed" and not job.backend_job_id and not Redemption.objects.filter(job=job).exists()
    assert [(a["pool"], a["outcome"]) for a in job.pool_attempts] == [("sh-local", "refused"), ("nx-local", "refused")]
    assert "sh-local" in job.last_error and "nx-local" in job.last_error

    client.force_login(w.alice)
    html = client.get(f"/compute/workspace/jobs/{job.pk}/").content.decode()
    assert "每个可行的资源池都拒绝了此作业" in html
    assert html.count("this machine has 0") >= 2 and "sh-local" in html and "nx-local" in html

    _token, key = PersonalAccessToken.generate(w.alice, "t")
    body = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get(f"/api/v1/compute/jobs/{job.pk}").json()
    assert body["state"] == "failed"
    assert [(a["pool"], a["outcome"]) for a in body["pool_attempts"]] == [("sh-local", "refused"),
                                                                          ("nx-local", "refused")]
    assert all("this machine has 0" in a["reason"] for a in body["pool_attempts"])
    assert body["failover"][0]["from_pool"] == "sh-local" and body["failover"][0]["to"] == "nx-local"


def test_failover_never_takes_data_out_of_a_region_it_may_not_leave(compute_world):
    w = compute_world
    # A third pool, in Shanghai, dearer than Ningxia: the only place important data from Shanghai may go.
    backup = make_pool(w.petra, make_site(w.petra, w.prov_a, "sh-jinqiao"), "sh-backup", "MLU370", count=8,
                       price="300.00")
    configure(w.petra, w.pool_a, "accelerators=0")
    job = submit(w.alice, w.ent_a, data_grade="important")
    job = actions.dispatch_job(job.pk)
    assert job.pool == backup  # not nx-local, though cheaper
    assert job.placement["failover"][0]["rejected"]["nx-local"]["code"] == "placement.data_residency"

    configure(w.petra, backup, "accelerators=0")
    job = actions.dispatch_job(job.pk)
    assert job.state == "failed"  # no Shanghai pool left: it fails rather than leave Shanghai
    assert {a["pool"] for a in job.pool_attempts} == {"sh-local", "sh-backup"}
    assert "nx-local" in job.last_error  # why Ningxia was not tried: the data may not leave Shanghai
    assert not Job.objects.filter(pk=job.pk, pool=w.pool_b).exists()


def test_failover_keeps_the_budget_cap(compute_world):
    w = compute_world
    configure(w.petra, w.pool_a, "accelerators=0")
    job = submit(w.alice, w.ent_a, budget_cap="70")  # sh-local costs 60, nx-local 90
    job = actions.dispatch_job(job.pk)
    assert job.state == "failed" and job.pool.code == "sh-local"
    assert "预算上限" in job.last_error and "nx-local" in job.last_error


@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="needs a machine without Ray installed")
def test_a_pool_whose_backend_cannot_run_here_is_skipped(compute_world):
    w = compute_world
    # sh-ray is the cheapest, but its backend (Ray) is not installed on this platform.
    make_pool(w.petra, w.site_a, "sh-ray", "MLU370", count=8, price="60.00", backend="ray")
    job = submit(w.alice, w.ent_a)
    assert job.pool.code == "sh-ray"
    job = actions.dispatch_job(job.pk)
    assert job.pool.code == "sh-local" and job.pool_attempts[0]["outcome"] == "unreachable"
    assert "pip install" in job.pool_attempts[0]["reason"]
    assert wait_until_done(actions.dispatch_job(job.pk)).state == "completed"


class Down:
    kind = "local"

    def _down(self, *args, **kwargs):
        raise BackendUnavailable("connection refused (test)")

    submit = status = cancel = logs = usage = find = _down

    def ping(self):
        return False


def _pretend_outage_began(job, minutes):
    attempts = job.pool_attempts
    attempts[0]["at"] = (timezone.now() - timedelta(minutes=minutes)).isoformat()
    Job.objects.filter(pk=job.pk).update(pool_attempts=attempts, next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_an_outage_keeps_the_job_queued_then_moves_it_after_the_configured_time(compute_world, settings, monkeypatch):
    w = compute_world
    settings.GAODI_COMPUTE_FAILOVER_AFTER_S = 600
    real = runners.backend_for_pool
    monkeypatch.setattr(runners, "backend_for_pool", lambda pool: Down() if pool.code == "sh-local" else real(pool))
    job = actions.dispatch_job(submit(w.alice, w.ent_a).pk)
    assert job.state == "queued" and job.pool.code == "sh-local" and job.pool_attempts[0]["outcome"] == "unavailable"
    _pretend_outage_began(job, minutes=5)
    job = actions.dispatch_job(job.pk)
    assert job.pool.code == "sh-local" and job.attempts == 2  # five minutes: still waiting for it
    _pretend_outage_began(job, minutes=11)
    job = actions.dispatch_job(job.pk)
    assert job.pool.code == "nx-local" and job.state == "queued"
    assert "连续" in job.events.last().message or any("连续" in e.message for e in job.events.all())
    assert wait_until_done(actions.dispatch_job(job.pk)).state == "completed"


def test_an_outage_with_nowhere_else_to_go_never_fails_the_job(compute_world, settings, monkeypatch):
    w = compute_world
    settings.GAODI_COMPUTE_FAILOVER_AFTER_S = 60
    monkeypatch.setattr(runners, "backend_for_pool", lambda pool: Down())
    job = actions.dispatch_job(submit(w.alice, w.ent_a, data_may_leave="").pk)  # only sh-local qualifies
    _pretend_outage_began(job, minutes=30)
    job = actions.dispatch_job(job.pk)
    assert job.state == "queued" and job.pool.code == "sh-local" and job.attempts == 2


class LosesAnswer:
    """The real local backend; the answer to the first submission is lost after the job was made."""

    def __init__(self, real):
        self.real, self.kind, self.lost = real, real.kind, False

    def submit(self, spec):
        job_id = self.real.submit(spec)
        if not self.lost:
            self.lost = True
            raise BackendUnavailable("no answer (test)", maybe_submitted=True)
        return job_id

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_lost_answer_is_looked_up_and_the_job_is_never_submitted_twice(compute_world, monkeypatch):
    w = compute_world
    real = runners.backend_for_pool(w.pool_a)
    wrapper = LosesAnswer(real)
    monkeypatch.setattr(runners, "backend_for_pool", lambda pool: wrapper)
    job = actions.dispatch_job(submit(w.alice, w.ent_a).pk)
    assert job.state == "queued" and job.pool_attempts[0]["outcome"] == "unknown"
    assert job.pool.code == "sh-local"  # an open outcome never fails over: the job may be running there
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    job = actions.dispatch_job(job.pk)
    assert job.state == "pending" and job.pool_attempts[-1]["outcome"] == "adopted"
    assert real.find(job.backend_name) == [job.backend_job_id]  # exactly one job under its name
    assert any("不重复提交" in e.message for e in job.events.all())
    job = wait_until_done(job)
    assert job.state == "completed" and Redemption.objects.filter(job=job).count() == 1


def test_cancelling_while_the_outcome_is_open_finds_and_cancels_the_backend_job(compute_world, monkeypatch):
    w = compute_world
    real = runners.backend_for_pool(w.pool_a)
    wrapper = LosesAnswer(real)
    monkeypatch.setattr(runners, "backend_for_pool", lambda pool: wrapper)
    job = actions.dispatch_job(submit(w.alice, w.ent_a, script="sleep 30\n").pk)
    job = actions.cancel_job(w.alice, job)
    assert job.state == "queued" and job.cancel_requested  # first: is it on the backend?
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    job = actions.dispatch_job(job.pk)
    assert job.state == "pending" and job.backend_job_id and job.pool_attempts[-1]["outcome"] == "adopted"
    actions.reconcile_jobs()  # sends the pending cancellation
    job = wait_until_done(job)
    assert job.state == "cancelled" and len(real.find(job.backend_name)) == 1


def test_backend_options_are_checked_by_the_pool_form(compute_world):
    w = compute_world
    for options, words in [("root=/etc", "不是local后端的资源池参数"), ("accelerators=many", "须为整数"),
                           ("partition", "名称=值")]:
        form = PoolForm(data={"site": str(w.site_a.pk), "code": "sh-x", "accelerator": "MLU370", "count": "8",
                              "per_node": "8", "price_per_hour": "10", "backend": "local",
                              "backend_options": options, "active": "on"}, provider_ids={w.prov_a.pk})
        assert not form.is_valid() and words in " ".join(form.errors["backend_options"]), form.errors
    form = PoolForm(data={"site": str(w.site_a.pk), "code": "sh-slurm", "accelerator": "MLU370", "count": "8",
                          "per_node": "8", "price_per_hour": "10", "backend": "slurm",
                          "backend_options": "partition=gpu\naccount=ent-42\ngres=none", "active": "on"},
                    provider_ids={w.prov_a.pk})
    pool = actions.create_pool(w.petra, form)
    assert pool.backend_options == {"partition": "gpu", "account": "ent-42", "gres": "none"}
    assert runners.backend_options("slurm", pool.backend_options)["gres"] == ""


def test_backend_options_through_the_api_are_shown_to_the_provider_only(compute_world):
    w = compute_world
    _token, key = PersonalAccessToken.generate(w.petra, "t")
    petra = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = {"site": w.site_a.pk, "code": "sh-slurm", "accelerator": "MLU370", "count": 8, "price_per_hour": "50",
            "backend": "slurm", "backend_options": {"partition": "gpu", "gres": "none"}}
    created = petra.post("/api/v1/compute/pools", body, content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["backend_options"] == {"partition": "gpu", "gres": "none"}
    bad = petra.post("/api/v1/compute/pools", {**body, "code": "sh-bad", "backend_options": {"work_root": "/etc"}},
                     content_type="application/json")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "backend_options"
    assert Client().get(f"/api/v1/compute/pools/{created.json()['id']}").json()["backend_options"] is None
