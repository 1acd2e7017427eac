"""The REST API at /api/v1: authentication, the same permissions as the web pages, validation errors,
and the whole algorithm filing and disclosure flow."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from gaodi.apps.algorithms.filters import filter_public
from gaodi.apps.algorithms.models import AlgorithmFiling, State
from gaodi.apps.core.choices import DepartmentDuty, District, Industry, OrgKind, Role
from gaodi.apps.core.models import Membership, Notification, Organization, PersonalAccessToken, User

API = "/api/v1"
PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] "
       b"/Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
PICKLE = b"\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94."

CONTENT = {
    "name": "新闻个性化推荐算法",
    "category": "recommendation",
    "role": "provider",
    "scenarios": "新闻客户端首页信息流的个性化推荐与排序展示",
    "domain": "新闻资讯",
    "principle": "基于用户历史点击与停留时长训练的双塔召回模型，结合梯度提升树进行精排序打分。",
    "mechanism": "每日离线训练模型，线上实时召回候选内容，经过精排与多样性打散后展示给用户。",
    "purpose": "帮助用户更快找到感兴趣的新闻，同时保证信息来源多样。",
    "products": "新闻客户端 App 与开放接口 /feed",
    "public_text": "本算法根据您过去阅读的新闻推荐您可能感兴趣的内容；您可以在设置中关闭个性化推荐，改为按时间顺序浏览全部新闻。",
}


# ---- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _enterprise(code: str, name: str) -> Organization:
    return Organization.objects.create(name=name, code=code, kind=OrgKind.ENTERPRISE, district=District.XUHUI,
                                       industry=Industry.SOFTWARE_IT, employees=80, annual_revenue=5000)


def _department(code: str, name: str, duty: str) -> Organization:
    return Organization.objects.create(name=name, code=code, kind=OrgKind.DEPARTMENT, duty=duty)


def _user(username: str, *memberships: tuple[Organization, str]) -> User:
    user = User.objects.create_user(username=username, password="not-used-in-tests-1")
    for org, role in memberships:
        Membership.objects.create(user=user, organization=org, role=role)
    return user


def _client(user: User | None = None) -> Client:
    if user is None:
        return Client()
    _token, key = PersonalAccessToken.generate(user, "test", timezone.now() + timedelta(days=30))
    return Client(headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def world(db):
    """Two enterprises, two departments, and one user per role."""
    w = type("World", (), {})()
    w.a = _enterprise("E0001", "甲科技有限公司")
    w.b = _enterprise("E0002", "乙智能有限公司")
    w.cac = _department("D0001", "市网信办", DepartmentDuty.CYBERSPACE)
    w.market = _department("D0002", "市市场监管局", DepartmentDuty.MARKET)
    w.alice = _user("alice", (w.a, Role.MEMBER))
    w.bob = _user("bob", (w.b, Role.MEMBER))
    w.rita = _user("rita", (w.cac, Role.REVIEWER))
    w.paul = _user("paul", (w.cac, Role.PUBLISHER))
    w.otto = _user("otto", (w.market, Role.REVIEWER))
    w.as_alice, w.as_bob, w.as_rita = _client(w.alice), _client(w.bob), _client(w.rita)
    w.as_paul, w.as_otto, w.anon = _client(w.paul), _client(w.otto), Client()
    return w


def _create(client: Client, department: Organization, **overrides) -> dict:
    response = client.post(f"{API}/filings", {**CONTENT, "department": department.pk, **overrides},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def _upload(client: Client, filing_id: int, content: bytes = PDF, name: str = "report.pdf"):
    return client.post(f"{API}/filings/{filing_id}/report",
                       {"report": SimpleUploadedFile(name, content, content_type="application/pdf")})


def _act(client: Client, filing_id: int, name: str, comment: str = ""):
    return client.post(f"{API}/filings/{filing_id}/transitions/{name}", {"comment": comment},
                       content_type="application/json")


def _errors(response) -> dict[str, list[str]]:
    assert response.status_code == 422, response.content
    found: dict[str, list[str]] = {}
    for item in response.json()["detail"]:
        found.setdefault(item["field"], []).append(item["message"])
    return found


@pytest.fixture
def submitted(world) -> dict:
    filing = _create(world.as_alice, world.cac)
    assert _upload(world.as_alice, filing["id"]).status_code == 200
    response = _act(world.as_alice, filing["id"], "submit")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def approved(world, submitted) -> dict:
    response = _act(world.as_rita, submitted["id"], "approve")
    assert response.status_code == 200, response.content
    return response.json()


# ---- public reads -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_anonymous_reads_approved_filing_with_public_fields_only(world, approved):
    response = world.anon.get(f"{API}/filings")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["limit"] == 20 and body["offset"] == 0
    item = body["items"][0]
    assert item["id"] == approved["id"]
    assert item["category"] == "recommendation" and item["category_label"] == "个性化推送类"
    assert item["role"] == "provider" and item["state"] == "approved" and item["state_label"] == "已备案"
    assert item["district"] == "310104" and item["district_label"] == "徐汇区"
    assert item["organization"] == {"id": world.a.pk, "name": "甲科技有限公司", "code": "E0001"}
    assert "principle" not in item and "deadline" not in item

    detail = world.anon.get(f"{API}/filings/{approved['id']}").json()
    assert detail["access"] == "public"
    assert detail["public_text"] == CONTENT["public_text"]
    assert detail["filing_number"] == approved["filing_number"]
    assert [v["version"] for v in detail["versions"]] == [1]
    for private in ("scenarios", "principle", "mechanism", "purpose", "products", "report", "history",
                    "transitions", "deadline", "missing"):
        assert private not in detail, private


@pytest.mark.django_db
def test_public_list_filters_and_search_match_the_web_page(world, approved):
    def ids(**params):
        response = world.anon.get(f"{API}/filings", params)
        assert response.status_code == 200, response.content
        return [i["id"] for i in response.json()["items"]]

    def web_ids(**params):
        qs, _form = filter_public(AlgorithmFiling.objects.order_by("-approved_at", "-id"), params)
        return list(qs.values_list("id", flat=True))

    year = timezone.localdate().year
    cases = [{"category": "recommendation"}, {"category": "generation"}, {"district": "310104"},
             {"district": "310115"}, {"year": year}, {"year": year - 1}, {"state": "approved"},
             {"state": "deregistered"}, {"q": "推荐"}, {"q": "推薦"}, {"q": "区块链"}]
    for params in cases:
        assert ids(**params) == web_ids(**params), params
    assert ids(category="recommendation", q="推荐") == [approved["id"]]
    assert ids(q="区块链") == []
    assert _errors(world.anon.get(f"{API}/filings", {"category": "astrology"})).keys() == {"category"}
    assert _errors(world.anon.get(f"{API}/filings", {"limit": 500})).keys() == {"limit"}
    assert ids(limit=200) == [approved["id"]]
    assert ids(offset=1) == []


@pytest.mark.django_db
def test_drafts_and_unknown_filings_are_404_for_the_public(world):
    draft = _create(world.as_alice, world.cac)
    assert world.anon.get(f"{API}/filings/{draft['id']}").status_code == 404
    assert world.anon.get(f"{API}/filings/999999").json() == {"detail": "未找到。Not found."}
    assert world.anon.get(f"{API}/filings").json()["count"] == 0


# ---- the filing flow ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_enterprise_drafts_uploads_submits_and_reviewer_approves(world):
    draft = _create(world.as_alice, world.cac)
    assert draft["state"] == "draft" and draft["access"] == "full"
    assert draft["organization"]["code"] == "E0001" and draft["department"]["id"] == world.cac.pk
    assert draft["missing"] == {"report": ["请上传安全自评估报告（PDF 或 Office 文档）。"]}
    assert {t["name"] for t in draft["transitions"]} == {"submit", "withdraw"}

    # Submitting without the report is refused with the field and what to do.
    assert "report" in _errors(_act(world.as_alice, draft["id"], "submit"))

    uploaded = _upload(world.as_alice, draft["id"])
    assert uploaded.status_code == 200, uploaded.content
    report = uploaded.json()["report"]
    assert report["name"] == "report.pdf" and report["extension"] == ".pdf" and len(report["sha256"]) == 64
    assert uploaded.json()["missing"] == {}
    download = world.as_alice.get(report["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert world.as_bob.get(report["url"]).status_code == 404

    submitted = _act(world.as_alice, draft["id"], "submit")
    assert submitted.status_code == 200, submitted.content
    body = submitted.json()
    assert body["state"] == "submitted" and body["deadline"] and body["transitions"] == []
    assert [h["transition"] for h in body["history"]] == ["submit"]

    queue = world.as_rita.get(f"{API}/review/filings").json()
    assert [i["id"] for i in queue["items"]] == [draft["id"]]
    assert queue["items"][0]["deadline"] == body["deadline"] and queue["counts"] == {"submitted": 1}
    assert world.as_rita.get(report["url"]).status_code == 200  # the department may read the report
    review_view = world.as_rita.get(f"{API}/filings/{draft['id']}").json()
    assert review_view["access"] == "full"
    assert {t["name"] for t in review_view["transitions"]} == {"approve", "return", "reject"}

    # The enterprise cannot approve its own filing.
    assert _act(world.as_alice, draft["id"], "approve").status_code == 403

    approved = _act(world.as_rita, draft["id"], "approve", "材料齐全")
    assert approved.status_code == 200, approved.content
    approved = approved.json()
    year = timezone.localdate().year
    assert re.fullmatch(rf"310104-E0001-{year}-0001", approved["filing_number"])
    assert approved["state"] == "approved" and approved["approved_at"]
    assert AlgorithmFiling.objects.get(pk=draft["id"]).filing_number == approved["filing_number"]
    assert world.anon.get(f"{API}/filings").json()["items"][0]["filing_number"] == approved["filing_number"]

    # The enterprise was told, and sees its filing in the workspace with every field.
    notes = world.as_alice.get(f"{API}/notifications").json()
    assert notes["unread"] == 1 and approved["filing_number"] in notes["items"][0]["message"]
    work = world.as_alice.get(f"{API}/workspace/filings").json()
    assert [i["id"] for i in work["items"]] == [draft["id"]]


@pytest.mark.django_db
def test_other_enterprise_cannot_see_or_touch_a_draft(world):
    draft = _create(world.as_alice, world.cac)
    url = f"{API}/filings/{draft['id']}"
    assert world.as_bob.get(url).status_code == 404
    assert world.as_bob.patch(url, {"name": "篡改"}, content_type="application/json").status_code == 404
    assert _upload(world.as_bob, draft["id"]).status_code == 404
    for name in ("submit", "withdraw", "request_change", "approve"):
        assert _act(world.as_bob, draft["id"], name).status_code == 404, name
    assert world.as_bob.get(f"{API}/workspace/filings").json()["count"] == 0
    # Reviewers never see drafts either.
    assert world.as_rita.get(url).status_code == 404
    assert AlgorithmFiling.objects.get(pk=draft["id"]).name == CONTENT["name"]


@pytest.mark.django_db
def test_reviewer_of_another_department_gets_404_then_403(world, submitted):
    url = f"{API}/filings/{submitted['id']}"
    assert world.as_otto.get(url).status_code == 404
    assert _act(world.as_otto, submitted["id"], "approve").status_code == 404
    assert world.as_otto.get(f"{API}/review/filings").json()["items"] == []
    assert world.as_rita.get(url).status_code == 200

    assert _act(world.as_rita, submitted["id"], "approve").status_code == 200
    # Now public: visible to everyone, but still only its own department may decide on it.
    assert world.as_otto.get(url).json()["access"] == "public"
    response = _act(world.as_otto, submitted["id"], "approve_deregistration")
    assert response.status_code == 403 and "detail" in response.json()
    assert world.as_bob.get(f"{API}/review/filings").status_code == 403


@pytest.mark.django_db
def test_return_edit_resubmit_and_comment_rules(world, submitted):
    fid = submitted["id"]
    assert _errors(_act(world.as_rita, fid, "return")).keys() == {"comment"}
    assert _errors(_act(world.as_rita, fid, "return", "x" * 2001)).keys() == {"comment"}
    returned = _act(world.as_rita, fid, "return", "请补充运行机制")
    assert returned.status_code == 200 and returned.json()["state"] == "returned"
    # The enterprise fixes only the field asked for; the rest stays as saved.
    patched = world.as_alice.patch(f"{API}/filings/{fid}", {"mechanism": CONTENT["mechanism"] + "每周人工复核。"},
                                   content_type="application/json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["mechanism"].endswith("每周人工复核。")
    assert patched.json()["name"] == CONTENT["name"] and patched.json()["report"]
    assert _act(world.as_alice, fid, "submit").json()["state"] == "submitted"
    # The enterprise of a filing is not editable.
    moved = world.as_alice.patch(f"{API}/filings/{fid}", {"organization": world.b.pk}, content_type="application/json")
    assert _errors(moved).keys() == {"organization"}
    # Once submitted it can no longer be edited.
    locked = world.as_alice.patch(f"{API}/filings/{fid}", {"name": "改名"}, content_type="application/json")
    assert locked.status_code == 403


@pytest.mark.django_db
def test_change_and_deregistration(world, approved):
    fid = approved["id"]
    assert _act(world.as_bob, fid, "request_change").status_code == 403
    change = _act(world.as_alice, fid, "request_change")
    assert change.status_code == 201, change.content
    change = change.json()
    assert change["state"] == "draft" and change["version"] == 2 and change["kind"] == "change"
    assert change["previous_id"] == fid and change["id"] != fid

    # While a change is open, deregistration is refused; withdrawing the change unblocks it.
    assert _errors(_act(world.as_alice, fid, "request_deregistration", "产品下线")).keys() == {"state"}
    assert _act(world.as_alice, change["id"], "withdraw").json()["state"] == "withdrawn"
    assert _errors(_act(world.as_alice, fid, "request_deregistration")).keys() == {"comment"}
    requested = _act(world.as_alice, fid, "request_deregistration", "产品下线")
    assert requested.json()["state"] == "deregistration_requested"
    done = _act(world.as_rita, fid, "approve_deregistration")
    assert done.status_code == 200 and done.json()["state"] == "deregistered"
    assert world.anon.get(f"{API}/filings", {"state": "deregistered"}).json()["count"] == 1


@pytest.mark.django_db
def test_unknown_transition_is_404(world):
    draft = _create(world.as_alice, world.cac)
    assert _act(world.as_alice, draft["id"], "supersede").status_code == 404
    assert _act(world.as_alice, draft["id"], "delete_everything").status_code == 404


# ---- validation ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_validation_errors_name_the_field(world):
    def create(**body):
        return world.as_alice.post(f"{API}/filings", body, content_type="application/json")

    assert "name" in _errors(create(department=world.cac.pk))
    assert "name" in _errors(create(name="   ", department=world.cac.pk))
    assert _errors(create(name="算法", category="astrology", department=world.cac.pk)).keys() == {"category"}
    assert _errors(create(name="算法")).keys() == {"department"}
    assert _errors(create(name="算法", department=world.a.pk)).keys() == {"department"}  # not a department
    assert _errors(create(name="长" * 101, department=world.cac.pk)).keys() == {"name"}
    assert _errors(create(name=123, department=world.cac.pk)).keys() == {"name"}
    assert _errors(create(name="算法", department=world.cac.pk, nmae="拼错")).keys() == {"nmae"}
    bad_json = world.as_alice.post(f"{API}/filings", "{not json", content_type="application/json")
    assert bad_json.status_code in (400, 422) and "detail" in bad_json.json()
    assert AlgorithmFiling.objects.count() == 0


@pytest.mark.django_db
def test_pickle_disguised_as_pdf_is_refused_and_nothing_is_lost(world):
    draft = _create(world.as_alice, world.cac)
    errors = _errors(_upload(world.as_alice, draft["id"], PICKLE, "report.pdf"))
    assert errors.keys() == {"report"} and "PDF" in errors["report"][0]
    assert _errors(_upload(world.as_alice, draft["id"], PDF, "report.exe")).keys() == {"report"}
    assert _errors(world.as_alice.post(f"{API}/filings/{draft['id']}/report", {})).keys() == {"report"}
    filing = AlgorithmFiling.objects.get(pk=draft["id"])
    assert not filing.report and filing.name == CONTENT["name"] and filing.principle == CONTENT["principle"]


@pytest.mark.django_db
def test_xss_text_is_returned_as_inert_json_data(world):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    draft = _create(world.as_alice, world.cac, name=payload[:100], domain=payload[:100])
    response = world.as_alice.get(f"{API}/filings/{draft['id']}")
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["name"] == payload[:100] and response.json()["domain"] == payload[:100]


@pytest.mark.django_db
def test_user_in_several_enterprises_must_choose(world):
    both = _user("carol", (world.a, Role.MEMBER), (world.b, Role.ADMIN))
    client = _client(both)
    body = {"name": "多主体算法", "department": world.cac.pk}
    assert _errors(client.post(f"{API}/filings", body, content_type="application/json")).keys() == {"organization"}
    created = client.post(f"{API}/filings", {**body, "organization": world.b.pk}, content_type="application/json")
    assert created.status_code == 201 and created.json()["organization"]["id"] == world.b.pk
    other = _enterprise("E0003", "丙公司")
    refused = client.post(f"{API}/filings", {**body, "organization": other.pk}, content_type="application/json")
    assert refused.status_code == 403
    # Reviewers and the public cannot file at all.
    assert world.as_rita.post(f"{API}/filings", body, content_type="application/json").status_code == 403
    assert world.anon.post(f"{API}/filings", body, content_type="application/json").status_code == 401


# ---- authentication -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_tokens_bad_revoked_expired_and_inactive_are_401(world, approved):
    def get(header: str, path: str = "/filings"):
        return Client(headers={"Authorization": header}).get(f"{API}{path}")

    # A bad credential is refused even on public endpoints, never downgraded to anonymous.
    assert get("Bearer gdt_not-a-real-token").status_code == 401
    assert get("Bearer not-even-a-gdt-token").status_code == 401
    assert get("Bearer ").status_code == 401
    assert get("Basic YWxpY2U6cGFzc3dvcmQ=").status_code == 401
    assert get("Bearer gdt_nope")["WWW-Authenticate"].startswith("Bearer")

    token, key = PersonalAccessToken.generate(world.alice, "cli")
    assert get(f"Bearer {key}", "/me").json()["username"] == "alice"
    token.revoked_at = timezone.now()
    token.save()
    assert get(f"Bearer {key}", "/me").status_code == 401
    assert get(f"Bearer {key}").status_code == 401

    _token, expired = PersonalAccessToken.generate(world.alice, "old", timezone.now() - timedelta(seconds=1))
    assert get(f"Bearer {expired}", "/me").status_code == 401

    _token, key = PersonalAccessToken.generate(world.bob, "cli")
    world.bob.is_active = False
    world.bob.save()
    assert get(f"Bearer {key}", "/me").status_code == 401

    # No credential at all: public endpoints answer, private ones are a 401.
    assert Client().get(f"{API}/filings").status_code == 200
    assert Client().get(f"{API}/me").status_code == 401
    assert Client().get(f"{API}/workspace/filings").status_code == 401


@pytest.mark.django_db
def test_last_used_at_is_written_at_most_once_a_minute(world):
    token, key = PersonalAccessToken.generate(world.alice, "cli")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get(f"{API}/me").status_code == 200
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    assert client.get(f"{API}/me").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first
    PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    assert client.get(f"{API}/me").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=2)


@pytest.mark.django_db
def test_session_auth_requires_csrf_for_writes(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    me = client.get(f"{API}/me").json()
    assert me["auth"] == "session" and me["username"] == "alice"
    body = {"name": "会话创建", "department": world.cac.pk}
    assert client.post(f"{API}/filings", body, content_type="application/json").status_code == 403
    secret = "a" * 32
    client.cookies["csrftoken"] = secret
    created = client.post(f"{API}/filings", body, content_type="application/json", headers={"X-CSRFToken": secret})
    assert created.status_code == 201, created.content


@pytest.mark.django_db
def test_me_lists_organizations_and_roles(world):
    world_user = _user("multi", (world.cac, Role.REVIEWER), (world.cac, Role.PUBLISHER), (world.a, Role.ADMIN))
    me = _client(world_user).get(f"{API}/me").json()
    assert me["auth"] == "token"
    orgs = {o["code"]: o for o in me["organizations"]}
    assert set(orgs) == {"D0001", "E0001"}
    assert sorted(orgs["D0001"]["roles"]) == ["publisher", "reviewer"] and orgs["E0001"]["kind"] == "enterprise"
    assert {(r["organization_id"], r["role"]) for r in me["roles"]} == {
        (world.cac.pk, "reviewer"), (world.cac.pk, "publisher"), (world.a.pk, "admin")}


@pytest.mark.django_db
def test_notifications_are_the_callers_own(world, submitted):
    rita = world.as_rita.get(f"{API}/notifications").json()
    assert rita["count"] == 1 and rita["unread"] == 1 and CONTENT["name"] in rita["items"][0]["message"]
    assert world.as_bob.get(f"{API}/notifications").json()["count"] == 0
    marked = world.as_rita.post(f"{API}/notifications/read")
    assert marked.json() == {"marked": 1}
    assert world.as_rita.get(f"{API}/notifications", {"unread_only": True}).json()["count"] == 0
    assert Notification.objects.filter(recipient=world.rita, read_at__isnull=False).count() == 1


# ---- disclosure ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_publish_batch_then_read_it_with_items(world, approved):
    today = timezone.localdate()
    body = {"title": "2026年第一批算法备案公示", "period_start": (today - timedelta(days=30)).isoformat(),
            "period_end": today.isoformat(), "note": "按条例第十五条公示"}
    assert world.as_rita.post(f"{API}/disclosures", body, content_type="application/json").status_code == 403
    assert world.as_alice.post(f"{API}/disclosures", body, content_type="application/json").status_code == 403

    published = world.as_paul.post(f"{API}/disclosures", body, content_type="application/json")
    assert published.status_code == 201, published.content
    batch = published.json()
    assert re.fullmatch(rf"GS-D0001-{today.year}-001", batch["number"])
    assert batch["item_count"] == 1 and len(batch["content_sha256"]) == 64

    listed = world.anon.get(f"{API}/disclosures").json()
    assert listed["count"] == 1 and listed["items"][0]["number"] == batch["number"]
    detail = world.anon.get(f"{API}/disclosures/{batch['id']}").json()
    assert [i["filing_number"] for i in detail["items"]] == [approved["filing_number"]]
    item = detail["items"][0]
    assert item["category"] == "recommendation" and item["category_label"] == "个性化推送类"
    assert item["public_text"] == CONTENT["public_text"] and item["organization"] == "甲科技有限公司"
    assert world.anon.get(f"{API}/filings/{approved['id']}").json()["batches"] == [
        {"id": batch["id"], "number": batch["number"]}]
    assert world.anon.get(f"{API}/disclosures/999999").status_code == 404

    # The same period again is refused; a correction naming the batch is accepted.
    again = world.as_paul.post(f"{API}/disclosures", body, content_type="application/json")
    assert _errors(again).keys() == {"period_start"}
    correction = world.as_paul.post(f"{API}/disclosures", {**body, "corrects": batch["number"]},
                                    content_type="application/json")
    assert correction.status_code == 201 and correction.json()["corrects"] == batch["number"]
    assert world.anon.get(f"{API}/disclosures/{batch['id']}").json()["corrections"][0]["number"] == \
        correction.json()["number"]


@pytest.mark.django_db
def test_publish_batch_validation(world, approved):
    today = timezone.localdate()

    def publish(**overrides):
        body = {"title": "公示", "period_start": today.isoformat(), "period_end": today.isoformat(), **overrides}
        return world.as_paul.post(f"{API}/disclosures", body, content_type="application/json")

    assert _errors(publish(period_end=(today + timedelta(days=1)).isoformat())).keys() == {"period_end"}
    assert _errors(publish(period_start=today.isoformat(),
                           period_end=(today - timedelta(days=1)).isoformat())).keys() == {"period_end"}
    assert _errors(publish(period_start="yesterday")).keys() == {"period_start"}
    assert _errors(publish(corrects="GS-NOPE")).keys() == {"corrects"}
    empty_period = (today - timedelta(days=400)).isoformat()
    assert _errors(publish(period_start=empty_period, period_end=empty_period)).keys() == {"period_start"}
    assert _errors(publish(title="")).keys() == {"title"}


# ---- regulation and schema ----------------------------------------------------------------------

@pytest.mark.django_db
def test_regulation_articles_with_features(world):
    articles = world.anon.get(f"{API}/regulation/articles").json()
    assert [a["number"] for a in articles] == list(range(1, 71))
    art15 = world.anon.get(f"{API}/regulation/articles/15").json()
    assert art15["number"] == 15 and art15["text"]
    keys = {f["key"] for f in art15["features"]}
    assert {"algorithms.filing", "algorithms.disclosure"} <= keys
    filing_feature = next(f for f in art15["features"] if f["key"] == "algorithms.filing")
    assert filing_feature["url"] == "/filings/" and 15 in filing_feature["articles"]
    assert world.anon.get(f"{API}/regulation/articles/99").status_code == 404


@pytest.mark.django_db
def test_openapi_schema_and_docs(world):
    schema = world.anon.get(f"{API}/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/filings", "/filings/{filing_id}", "/filings/{filing_id}/report",
                 "/filings/{filing_id}/transitions/{name}", "/workspace/filings", "/review/filings",
                 "/disclosures", "/disclosures/{batch_id}", "/regulation/articles",
                 "/regulation/articles/{number}", "/me", "/notifications"):
        assert f"{API}{path}" in paths, path
    assert {"get", "patch"} <= set(paths[f"{API}/filings/{{filing_id}}"])
    assert {"get", "post"} <= set(paths[f"{API}/filings"])
    schemes = schema.json()["components"]["securitySchemes"]
    assert schemes["TokenAuth"]["scheme"] == "bearer"
    assert world.anon.get(f"{API}/docs").status_code == 200


@pytest.mark.django_db
def test_unexpected_errors_are_json_without_a_stack_trace(world, monkeypatch, settings):
    settings.DEBUG = True  # even in development the API never shows a traceback

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    draft = _create(world.as_alice, world.cac)
    monkeypatch.setattr("gaodi.apps.algorithms.api._public", boom)
    AlgorithmFiling.objects.filter(pk=draft["id"]).update(state=State.APPROVED)
    response = world.anon.get(f"{API}/filings")
    assert response.status_code == 500
    assert response.json() == {"detail": "服务器内部错误。Internal server error."}
    assert b"secret internals" not in response.content and b"Traceback" not in response.content
