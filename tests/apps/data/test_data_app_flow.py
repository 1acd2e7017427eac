"""Data resources: catalog, uploads, quality task, grading, open lists, applications, grants, downloads."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from gaodi.apps.data import actions
from gaodi.apps.data.forms import ApplicationForm, DatasetForm, GradingForm, OpenListEntryForm, ResourceForm
from gaodi.apps.data.models import AccessLog, OpenListVersion, QualityState

CSV = "编号,城市,数值\n1,上海,3.5\n2,北京,4.0\n3,上海,2.5\n".encode()


def make_dataset(world, open_type="conditional", **kw):
    data = {"title": "城市交通流量数据", "title_en": "Urban traffic flow", "description": "路口流量统计。",
            "theme": "transport", "licence": "CC BY 4.0", "update_frequency": "monthly", "spatial": "上海市",
            "open_type": open_type, "security_level": "general", "conditions": "仅限科研与产品研发使用。", **kw}
    return actions.create_dataset(world.paul, world.cyber, DatasetForm(data=data))


def add_file(world, dataset, content=CSV, name="flow.csv"):
    form = ResourceForm(data={"name": "流量表", "kind": "file"}, files={"file": SimpleUploadedFile(name, content)})
    return actions.add_resource(world.paul, dataset, form)


def apply(world, dataset, user=None, org=None, term=30):
    user = user or world.alice
    form = ApplicationForm(data={"organization": org.pk if org else "", "purpose": "训练交通流量预测模型，用于信号灯优化。",
                                 "scenario": "智慧交通", "security_measures": "专网存储，访问留痕。", "term_days": term},
                           enterprises=type(world.ent_a).objects.filter(memberships__user=user))
    return actions.apply_for_access(user, dataset, form)


def test_catalog_search_filters_and_exports(client, world):
    make_dataset(world, open_type="unconditional")
    make_dataset(world, title="医疗影像标注数据", title_en="Medical images", theme="health")
    assert "城市交通流量数据" in client.get("/data/", {"q": "交通"}).content.decode()
    page = client.get("/data/", {"q": "Medical"}).content.decode()
    assert "医疗影像标注数据" in page and "城市交通流量数据" not in page
    assert "医疗影像" not in client.get("/data/", {"theme": "transport"}).content.decode()
    body = json.loads(client.get("/data/", {"format": "json"}).content)
    assert {i["title"] for i in body["items"]} == {"城市交通流量数据", "医疗影像标注数据"}
    csv = client.get("/data/", {"format": "csv"}).content.decode("utf-8-sig")
    assert csv.splitlines()[0].startswith("编号 ID") and "医疗影像标注数据" in csv
    assert client.get("/data/", {"format": "xlsx"}).content.startswith(b"PK")
    assert client.get("/data/", {"format": "exe"}).status_code == 400
    stats = client.get("/data/statistics/")
    assert stats.status_code == 200 and "echarts" in stats.content.decode()
    data = json.loads(client.get("/data/statistics/", {"format": "json"}).content)
    assert data["total"] == 2
    api = client.get("/api/v1/data/datasets", {"theme": "health"}).json()
    assert api["count"] == 1


def test_upload_rejects_wrong_type_and_oversize(world, settings):
    dataset = make_dataset(world)
    with pytest.raises(Exception) as exc:
        add_file(world, dataset, b"%PDF-1.4 fake", "flow.csv")
    assert "不符" in str(exc.value)
    with pytest.raises(Exception) as exc:
        add_file(world, dataset, b"MZ\x90\x00", "flow.exe")
    assert "只接受" in str(exc.value)
    with pytest.raises(Exception) as exc:
        add_file(world, dataset, b"not parquet", "t.parquet")
    assert "不符" in str(exc.value)
    settings.GAODI_DATA_MAX_UPLOAD_BYTES = 10
    with pytest.raises(Exception) as exc:
        add_file(world, dataset)
    assert "超过上限" in str(exc.value)
    assert dataset.resources.count() == 0


def test_quality_report_inline_and_grading_decision(world):
    dataset = make_dataset(world)
    resource = add_file(world, dataset)
    version = actions.run_quality_report(resource.latest.pk)
    assert version.quality_state == QualityState.DONE and 0 < version.quality_score <= 1
    assert version.grading_suggestion["open_type"] == "conditional"  # transport: at most conditional (G2)
    decision = actions.decide_grading(world.paul, dataset, GradingForm(data={
        "security_level": "general", "open_type": "conditional", "note": "同意建议"}))
    assert decision.follows_suggestion is True and decision.suggestion["level"] == "general"
    with pytest.raises(Exception, match="无条件开放"):
        actions.decide_grading(world.paul, dataset, GradingForm(data={"security_level": "important",
                                                                      "open_type": "unconditional"}))
    bad = add_file(world, dataset, b"a,b\n1,2\n3\n", "bad.csv")
    failed = actions.run_quality_report(bad.latest.pk)
    assert failed.quality_state == QualityState.FAILED and failed.quality_error and "\n" not in failed.quality_error
    actions.retry_quality_report(world.paul, failed)
    failed.refresh_from_db()
    assert failed.quality_state == QualityState.PENDING


@pytest.mark.django_db(transaction=True)
def test_quality_task_runs_in_real_worker(world):
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    dataset = make_dataset(world)
    resource = add_file(world, dataset)
    task = DBTaskResult.objects.get(task_path__endswith="run_quality_report")
    call_command("db_worker", "--batch", "--no-startup-delay")
    task.refresh_from_db()
    assert task.status == "SUCCESSFUL", task.traceback
    version = resource.versions.get()
    assert version.quality_state == QualityState.DONE and version.quality_profile["score"] == version.quality_score


def test_open_list_versions_are_immutable_and_public(client, world):
    def entry(**kw):
        data = {"name": "公交到站数据", "scope": "全市公交线路", "open_type": "unconditional",
                "update_frequency": "daily", **kw}
        return OpenListEntryForm(data=data, department=world.cyber)

    v1 = actions.set_open_list_entry(world.paul, world.cyber, entry())
    v2 = actions.set_open_list_entry(world.paul, world.cyber, entry(open_type="conditional", conditions="需签署协议"))
    v3 = actions.remove_open_list_entry(world.paul, world.cyber, "公交到站数据")
    assert (v1.number, v2.number, v3.number) == (1, 2, 3) and v3.items == [] and v2.items[0]["open_type"] == "conditional"
    with pytest.raises(Exception, match="只能新增"):
        v1.change = "x"
        v1.save()
    with pytest.raises(Exception, match="只有本部门"):
        actions.set_open_list_entry(world.alice, world.cyber, entry())
    history = client.get(f"/data/open-lists/{world.cyber.pk}/").content.decode()
    assert "第 1 版" in history and "第 3 版" in history and "需签署协议" in history
    assert len(client.get(f"/api/v1/data/open-lists/{world.cyber.pk}/versions").json()) == 3
    assert OpenListVersion.objects.count() == 3


def test_application_grant_download_and_expiry(client, world):
    dataset = make_dataset(world)
    resource = add_file(world, dataset)
    application = apply(world, dataset, org=world.ent_a)
    assert application.state == "submitted" and application.deadline is not None
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        actions.decide_application(world.ron, application, "approve")  # another department's reviewer
    actions.decide_application(world.rita, application, "approve")
    grant = application.grant
    assert grant.expires_at - grant.starts_at == timedelta(days=30)
    # anonymous download of conditional data is refused; with the grant it works
    assert client.get(f"/data/resources/{resource.pk}/download/").status_code == 403
    client.force_login(world.alice)
    url = f"/data/grants/{grant.pk}/resources/{resource.pk}/download/"
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == CSV
    # someone else's grant: not even visible
    client.force_login(world.bob)
    assert client.get(url).status_code == 404
    # after expiry the grant refuses by itself, with a clear message
    type(grant).objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(world.alice)
    refused = client.get(url)
    assert refused.status_code == 403 and "到期" in refused.content.decode()
    logs = list(AccessLog.objects.filter(dataset=dataset).order_by("id").values_list("allowed", flat=True))
    assert logs == [False, True, False]


def test_not_open_never_downloads_and_unconditional_is_rate_limited(client, world, monkeypatch):
    closed = make_dataset(world, open_type="not_open")
    res = add_file(world, closed)
    client.force_login(world.admin)
    assert client.get(f"/data/resources/{res.pk}/download/").status_code == 403
    with pytest.raises(Exception, match="有条件开放"):
        apply(world, closed)
    open_ds = make_dataset(world, open_type="unconditional")
    res2 = add_file(world, open_ds)
    client.logout()
    monkeypatch.setattr(actions, "DOWNLOADS_PER_MINUTE", 2)
    from django.core.cache import cache

    cache.clear()
    codes = [client.get(f"/data/resources/{res2.pk}/download/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_fairness_report_groups_and_null_rates(client, world):
    dataset = make_dataset(world)
    a1 = apply(world, dataset, org=world.ent_a)  # SME
    actions.decide_application(world.rita, a1, "approve")
    a2 = apply(world, dataset, user=world.bob, org=world.ent_b)  # large
    actions.decide_application(world.rita, a2, "reject", "用途不明确")
    apply(world, dataset, user=world.nobody)  # individual, pending
    rows = {r["group"]: r for r in actions.fairness_report()}
    assert rows["sme"]["approval_rate"] == 1.0 and rows["large"]["approval_rate"] == 0.0
    assert rows["individual"]["pending"] == 1 and rows["individual"]["approval_rate"] is None
    assert rows["sme"]["avg_wait_days"] == 0
    assert client.get("/data/fairness/").status_code == 200


def test_reject_needs_comment_and_pages_render(client, world):
    dataset = make_dataset(world)
    add_file(world, dataset)
    application = apply(world, dataset, org=world.ent_a)
    client.force_login(world.rita)
    client.post(f"/data/applications/{application.pk}/reject/", {"comment": ""})
    application.refresh_from_db()
    assert application.state == "submitted"
    assert "城市交通流量数据" in client.get("/data/review/").content.decode()
    client.force_login(world.paul)
    assert client.get(f"/data/datasets/{dataset.pk}/").status_code == 200
    assert client.get("/data/open-lists/manage/").status_code == 200
    assert client.get("/data/datasets/new/").status_code == 200
