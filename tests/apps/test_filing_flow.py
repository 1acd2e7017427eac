"""The filing lifecycle through the web pages and the actions: draft, submit, return, revise,
approve with a number, change, deregister, publish a batch, search."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from gaodi.apps.algorithms import actions
from gaodi.apps.algorithms.models import AlgorithmFiling, DisclosureBatch, State
from gaodi.apps.core import audit
from gaodi.apps.core.models import Notification, WorkflowHistory
from tests.factories import FILING_DATA, pdf_upload

NUMBER = re.compile(r"^310104-E0001-\d{4}-\d{4}$")


def test_enterprise_drafts_submits_and_reviewer_returns_then_approves(client, world):
    client.force_login(world.alice)
    response = client.post("/workspace/filings/new/", {**FILING_DATA, "department": world.cyber.pk,
                                                        "report": pdf_upload(), "save": "1"})
    assert response.status_code == 302
    filing = AlgorithmFiling.objects.get()
    assert filing.state == State.DRAFT and filing.report_extension == ".pdf"
    assert filing.report_name == "self-assessment.pdf" and "self-assessment.pdf" not in filing.report.name

    client.post(f"/workspace/filings/{filing.pk}/submit/")
    filing.refresh_from_db()
    assert filing.state == State.SUBMITTED and filing.deadline is not None
    assert Notification.objects.filter(recipient=world.rita).exists()

    client.force_login(world.rita)
    queue = client.get("/review/filings/")
    assert filing.name in queue.content.decode()
    # Returning without a comment is refused and changes nothing.
    client.post(f"/review/filings/{filing.pk}/return/", {"comment": ""})
    filing.refresh_from_db()
    assert filing.state == State.SUBMITTED
    client.post(f"/review/filings/{filing.pk}/return/", {"comment": "请说明用户如何关闭推荐"})
    filing.refresh_from_db()
    assert filing.state == State.RETURNED

    client.force_login(world.alice)
    page = client.get(f"/workspace/filings/{filing.pk}/").content.decode()
    assert "请说明用户如何关闭推荐" in page
    client.post(f"/workspace/filings/{filing.pk}/edit/",
                {**FILING_DATA, "department": world.cyber.pk, "mechanism": FILING_DATA["mechanism"] + "，可一键关闭",
                 "submit": "1"})
    filing.refresh_from_db()
    assert filing.state == State.SUBMITTED and filing.mechanism.endswith("可一键关闭")

    client.force_login(world.rita)
    client.post(f"/review/filings/{filing.pk}/approve/", {"comment": ""})
    filing.refresh_from_db()
    assert filing.state == State.APPROVED and NUMBER.match(filing.filing_number)
    transitions = list(WorkflowHistory.objects.filter(object_id=filing.pk).values_list("transition", flat=True))
    assert transitions == ["submit", "return", "submit", "approve"]
    assert audit.verify().ok


def test_submission_lists_every_missing_field(world, make_filing):
    from gaodi.apps.algorithms.forms import FilingForm

    form = FilingForm(data={"name": "空白算法", "department": world.cyber.pk})
    filing = actions.create_filing(world.alice, world.ent_a, form)
    with pytest.raises(ValidationError) as exc:
        actions.submit_filing(world.alice, filing)
    missing = set(exc.value.message_dict)
    assert {"category", "role", "scenarios", "principle", "mechanism", "purpose", "products", "public_text",
            "report", "domain"} <= missing
    filing.refresh_from_db()
    assert filing.state == State.DRAFT


def test_filing_numbers_are_unique_and_sequential(world, make_filing):
    first = make_filing("approved")
    second = make_filing("approved", name="另一个算法")
    assert first.filing_number != second.filing_number
    assert int(second.filing_number[-4:]) == int(first.filing_number[-4:]) + 1


def test_change_filing_keeps_the_number_and_supersedes_the_old_version(world, make_filing):
    original = make_filing("approved")
    change = actions.request_change(world.alice, original)
    assert change.state == State.DRAFT and change.version == 2
    with pytest.raises(ValidationError):
        actions.request_change(world.alice, original)  # one open change at a time
    change.public_text = FILING_DATA["public_text"] + "新增：未成年人模式下不做个性化推荐。"
    change.save()
    actions.submit_filing(world.alice, change)
    actions.approve_filing(world.rita, change)
    original.refresh_from_db()
    change.refresh_from_db()
    assert original.state == State.SUPERSEDED and change.state == State.APPROVED
    assert change.filing_number == original.filing_number


def test_deregistration_goes_through_review(world, make_filing):
    filing = make_filing("approved")
    with pytest.raises(ValidationError):
        actions.request_deregistration(world.alice, filing, "")  # a reason is required
    filing = actions.request_deregistration(world.alice, filing, "产品下线")
    assert filing.state == State.DEREGISTRATION_REQUESTED
    filing = actions.decide_deregistration(world.rita, filing, approve=False, comment="仍在使用")
    assert filing.state == State.APPROVED
    filing = actions.request_deregistration(world.alice, filing, "产品已下线")
    filing = actions.decide_deregistration(world.rita, filing, approve=True)
    assert filing.state == State.DEREGISTERED


def test_other_department_cannot_review(world, make_filing):
    filing = make_filing("submitted")
    with pytest.raises(PermissionDenied):
        actions.approve_filing(world.ron, filing)
    filing.refresh_from_db()
    assert filing.state == State.SUBMITTED


def test_batch_freezes_content_and_corrections_are_new_batches(world, make_filing):
    filing = make_filing("approved")
    today = timezone.localdate()
    batch = actions.publish_batch(world.paul, world.cyber, "2026年第一批", today - timedelta(days=10), today)
    assert batch.item_count == 1 and batch.number.startswith("GS-D04-")
    item = batch.items.get()
    # Later changes to the filing never alter what was published.
    AlgorithmFiling.objects.filter(pk=filing.pk).update(public_text="改过的内容")
    item.refresh_from_db()
    assert item.public_text == FILING_DATA["public_text"]
    with pytest.raises(ValidationError):
        batch.title = "改标题"
        batch.save()
    with pytest.raises(ValidationError):
        batch.delete()
    with pytest.raises(ValidationError, match="重叠"):
        actions.publish_batch(world.paul, world.cyber, "重复", today - timedelta(days=5), today)
    correction = actions.publish_batch(world.paul, world.cyber, "更正", today - timedelta(days=10), today,
                                       note="更正第一批", corrects=batch)
    assert correction.corrects == batch and DisclosureBatch.objects.count() == 2
    with pytest.raises(PermissionDenied):
        actions.publish_batch(world.rita, world.cyber, "x", today, today)  # reviewer is not a publisher


def test_batch_exports(client, world, make_filing):
    make_filing("approved")
    today = timezone.localdate()
    batch = actions.publish_batch(world.paul, world.cyber, "导出测试", today - timedelta(days=3), today)
    csv = client.get(f"/disclosures/{batch.pk}/?format=csv")
    assert csv["Content-Type"].startswith("text/csv") and FILING_DATA["name"] in csv.content.decode("utf-8-sig")
    xlsx = client.get(f"/disclosures/{batch.pk}/?format=xlsx")
    assert xlsx.content[:2] == b"PK"
    data = client.get(f"/disclosures/{batch.pk}/?format=json").json()
    assert data["number"] == batch.number and data["items"][0]["name"] == FILING_DATA["name"]
    assert client.get(f"/disclosures/{batch.pk}/?format=exe").status_code == 400


@pytest.mark.parametrize("query", ["推荐", "推薦算法", "個性化推薦", "RECOMMENDATION", "商城"])
def test_public_search_in_simplified_traditional_and_english(client, world, make_filing, query):
    make_filing("approved", name="商品个性化推荐算法 Recommendation")
    make_filing("approved", name="城市出行调度决策算法", category="scheduling",
                public_text="根据实时供需为网约车司机派单，目标是缩短乘客等待时间，乘客可在行程页查看派单说明。",
                products="出行 App 派单接口", scenarios="网约车派单与路径规划调度")
    page = client.get("/filings/", {"q": query}).content.decode()
    assert "商品个性化推荐算法" in page
    assert "城市出行调度决策算法" not in page


def test_public_list_never_shows_drafts_or_submissions(client, world, make_filing):
    make_filing("draft", name="秘密草稿算法")
    make_filing("submitted", name="审核中算法")
    make_filing("approved", name="公开算法")
    page = client.get("/filings/").content.decode()
    assert "公开算法" in page and "秘密草稿算法" not in page and "审核中算法" not in page
    data = client.get("/filings/?format=json").json()
    assert [i["name"] for i in data["items"]] == ["公开算法"]


def test_filters_and_bad_filter_values(client, world, make_filing):
    make_filing("approved")
    assert FILING_DATA["name"] in client.get("/filings/", {"category": "recommendation"}).content.decode()
    assert FILING_DATA["name"] not in client.get("/filings/", {"category": "generation"}).content.decode()
    assert FILING_DATA["name"] in client.get("/filings/", {"district": "310104"}).content.decode()
    year = timezone.localdate().year
    assert FILING_DATA["name"] in client.get("/filings/", {"year": year}).content.decode()
    for bad in ({"year": "abc"}, {"category": "<script>"}, {"page": "-1"}, {"q": '"*NEAR('}):
        assert client.get("/filings/", bad).status_code == 200


@pytest.mark.django_db(transaction=True)  # the worker closes connections, as it does in production
def test_worker_writes_frozen_export_files_after_publication(client, world, make_filing):
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    make_filing("approved")
    today = timezone.localdate()
    batch = actions.publish_batch(world.paul, world.cyber, "后台导出", today - timedelta(days=3), today)
    task = DBTaskResult.objects.get()
    assert task.task_path.endswith("render_batch_exports") and task.status == "READY"
    call_command("db_worker", "--batch", "--no-startup-delay")  # the real ORM worker, one pass
    task.refresh_from_db()
    assert task.status == "SUCCESSFUL", task.traceback
    first = b"".join(client.get(f"/disclosures/{batch.pk}/?format=json").streaming_content)
    second = b"".join(client.get(f"/disclosures/{batch.pk}/?format=json").streaming_content)
    assert first == second and batch.number.encode() in first


def test_public_list_caps_its_count_on_broad_results(client, world, make_filing, monkeypatch):
    from gaodi.apps.core.pagination import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "cap", 2)
    for i in range(4):
        make_filing("approved", name=f"批量算法{i}")
    page = client.get("/filings/").content.decode()
    assert "超过 2 项" in page
    exact = client.get("/filings/", {"q": "批量算法0"}).content.decode()
    assert "共 1 项" in exact


def test_search_indexes_category_labels_in_both_languages(world, make_filing):
    from django.utils import translation

    with translation.override("en"):
        filing = make_filing("approved", name="无关名称", public_text="这是一段足够长的公示内容，用于说明算法做什么以及用户可以怎样选择退出。")
    from gaodi.apps.algorithms.filters import filter_public

    for q in ("个性化推送", "personalised"):
        qs, _form = filter_public(AlgorithmFiling.objects.all(), {"q": q})
        assert filing in qs, q
