"""Grants and downloads: revocation by the deciding department, expiry checked at the time of use, and
downloads through the API (anonymous and rate limited for open data, a grantee's token for conditional
data), each refusal a clear 403/429 with its reason and every access in the access log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from gaodi.apps.core.models import AuditEntry, Notification, PersonalAccessToken
from gaodi.apps.data import actions
from gaodi.apps.data.forms import ApplicationForm, DatasetForm, GrantRevokeForm, ResourceForm
from gaodi.apps.data.models import AccessLog, Grant

CSV = "编号,城市,数值\n1,上海,3.5\n2,北京,4.0\n".encode()


def make_dataset(world, open_type="conditional"):
    return actions.create_dataset(world.paul, world.cyber, DatasetForm(data={
        "title": "城市交通流量数据", "title_en": "Urban traffic flow", "description": "路口流量统计。",
        "theme": "transport", "licence": "CC BY 4.0", "update_frequency": "monthly", "spatial": "上海市",
        "open_type": open_type, "security_level": "general", "conditions": "仅限科研使用。"}))


def add_file(world, dataset, content=CSV):
    form = ResourceForm(data={"name": "流量表", "kind": "file"}, files={"file": SimpleUploadedFile("flow.csv", content)})
    return actions.add_resource(world.paul, dataset, form)


def granted(world, term=30):
    dataset = make_dataset(world)
    resource = add_file(world, dataset)
    form = ApplicationForm(data={"organization": world.ent_a.pk, "purpose": "训练交通流量预测模型，用于信号灯优化。",
                                 "scenario": "智慧交通", "security_measures": "专网存储，访问留痕。", "term_days": term},
                           enterprises=type(world.ent_a).objects.filter(pk=world.ent_a.pk))
    application = actions.apply_for_access(world.alice, dataset, form)
    actions.decide_application(world.rita, application, "approve")
    return dataset, resource, Grant.objects.get(application=application)


def bearer(user) -> dict:
    _token, key = PersonalAccessToken.generate(user, "test")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_the_deciding_department_revokes_a_grant_with_a_reason(client, world):
    dataset, resource, grant = granted(world)
    client.force_login(world.alice)
    url = f"/data/grants/{grant.pk}/resources/{resource.pk}/download/"
    assert client.get(url).status_code == 200
    with pytest.raises(PermissionDenied):  # another department's reviewer
        actions.revoke_grant(world.ron, grant, GrantRevokeForm(data={"reason": "不是本部门的授权"}))
    with pytest.raises(PermissionDenied):  # the grantee itself
        actions.revoke_grant(world.alice, grant, GrantRevokeForm(data={"reason": "我想撤销"}))
    with pytest.raises(ValidationError) as exc:
        actions.revoke_grant(world.rita, grant, GrantRevokeForm(data={"reason": " "}))
    assert "reason" in exc.value.message_dict
    client.force_login(world.rita)
    page = client.get(f"/data/applications/{grant.application_id}/").content.decode()
    assert "撤销授权" in page and "已下载" in page  # the decider sees the revoke form and the access log
    response = client.post(f"/data/grants/{grant.pk}/revoke/", {"reason": "发现超范围使用，违反开放条件"})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.status == "revoked" and grant.revoked_by == world.rita and grant.revoke_reason.startswith("发现")
    entry = AuditEntry.objects.get(action="data.grant.revoke")
    assert entry.object_id == str(grant.pk) and entry.data["reason"] == "发现超范围使用，违反开放条件"
    note = Notification.objects.get(recipient=world.alice, message__contains="已被撤销")
    assert "发现超范围使用" in note.message
    with pytest.raises(ValidationError, match="无需再次撤销"):
        actions.revoke_grant(world.rita, grant, GrantRevokeForm(data={"reason": "再撤销一次"}))
    # every later use is refused with the reason, on the web and through the API
    client.force_login(world.alice)
    refused = client.get(url)
    assert refused.status_code == 403 and "撤销理由：发现超范围使用" in refused.content.decode()
    api = client.get(f"/api/v1/data/resources/{resource.pk}/download", **bearer(world.alice))
    assert api.status_code == 403 and "撤销" in api.json()["detail"]
    # the access log keeps the history: one allowed, then the refusals, all tied to the grant
    logs = list(AccessLog.objects.filter(grant=grant).order_by("id").values_list("allowed", flat=True))
    assert logs == [True, False, False]
    page = client.get(f"/data/applications/{grant.application_id}/").content.decode()
    assert "已撤销" in page or "被撤销" in page
    assert "撤销授权" not in page  # the grantee has no revoke form
    mine = client.get("/data/access/").content.decode()
    assert "已撤销" in mine and "发现超范围使用" in mine


def test_revoke_through_the_api_and_permissions(client, world):
    _dataset, _resource, grant = granted(world)
    url = f"/api/v1/data/grants/{grant.pk}/revoke"
    assert client.post(url, {"reason": "违规"}, content_type="application/json", **bearer(world.bob)).status_code == 404
    assert client.post(url, {"reason": "违反条件"}, content_type="application/json",
                       **bearer(world.alice)).status_code == 403
    short = client.post(url, {"reason": "违"}, content_type="application/json", **bearer(world.rita))
    assert short.status_code == 422 and short.json()["detail"][0]["field"] == "reason"
    done = client.post(url, {"reason": "违反开放条件"}, content_type="application/json", **bearer(world.rita))
    assert done.status_code == 200 and done.json()["status"] == "revoked" and done.json()["active"] is False
    assert client.get(f"/api/v1/data/grants/{grant.pk}", **bearer(world.alice)).json()["revoke_reason"] == "违反开放条件"


def test_an_expired_grant_is_refused_at_the_time_of_use_without_any_job(client, world):
    _dataset, resource, grant = granted(world, term=1)
    api_url = f"/api/v1/data/resources/{resource.pk}/download"
    assert client.get(api_url, **bearer(world.alice)).status_code == 200
    # no periodic job runs: the grant's own times decide at the moment it is used
    later = grant.expires_at + timedelta(seconds=1)
    with pytest.raises(actions.Refused) as exc:
        actions.authorize_download(world.alice, resource.latest, "127.0.0.1", grant, now=later)
    assert exc.value.status == 403 and "到期" in exc.value.message
    assert grant.status_at(later) == "expired" and grant.status_at(grant.expires_at - timedelta(seconds=1)) == "active"
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = client.get(api_url, **bearer(world.alice))
    assert expired.status_code == 403 and "到期" in expired.json()["detail"] and "重新申请" in expired.json()["detail"]
    client.force_login(world.alice)
    web = client.get(f"/data/resources/{resource.pk}/download/")  # the dataset page's link uses the caller's grant
    assert web.status_code == 403 and "到期" in web.content.decode()
    with pytest.raises(ValidationError, match="已不能使用"):
        actions.revoke_grant(world.rita, Grant.objects.get(pk=grant.pk), GrantRevokeForm(data={"reason": "到期后撤销"}))


def test_api_download_of_conditional_data_needs_a_grantees_token(client, world):
    dataset, resource, grant = granted(world)
    url = f"/api/v1/data/resources/{resource.pk}/download"
    anonymous = client.get(url)
    assert anonymous.status_code == 403 and "有条件开放" in anonymous.json()["detail"]
    assert client.get(url, **bearer(world.bob)).status_code == 403  # signed in, no grant
    assert client.get(url, {"grant": grant.pk}, **bearer(world.bob)).status_code == 404  # someone else's grant
    ok = client.get(url, **bearer(world.alice))
    assert ok.status_code == 200 and b"".join(ok.streaming_content) == CSV
    assert ok["Content-Disposition"].startswith("attachment")
    assert client.get(url, {"grant": grant.pk}, **bearer(world.alice)).status_code == 200
    log = AccessLog.objects.filter(allowed=True).latest("id")
    assert log.grant_id == grant.pk and log.user == world.alice and log.version == resource.latest
    # a named version, and one that does not exist
    second = SimpleUploadedFile("flow.csv", CSV + "3,广州,1.0\n".encode())
    from gaodi.apps.data.forms import VersionForm

    actions.add_version(world.paul, resource, VersionForm(data={}, files={"file": second}))
    first = client.get(url, {"version": 1}, **bearer(world.alice))
    assert b"".join(first.streaming_content) == CSV
    assert client.get(url, {"version": 9}, **bearer(world.alice)).status_code == 404
    assert client.get("/api/v1/data/resources/99999/download").status_code == 404
    assert client.get(url, {"grant": "x"}).status_code == 422  # a malformed parameter is a 422, never a 500


def test_api_download_of_open_data_is_anonymous_and_rate_limited(client, world, monkeypatch):
    open_ds = make_dataset(world, open_type="unconditional")
    resource = add_file(world, open_ds)
    closed = add_file(world, make_dataset(world, open_type="not_open"))
    monkeypatch.setattr(actions, "DOWNLOADS_PER_MINUTE", 2)
    cache.clear()
    url = f"/api/v1/data/resources/{resource.pk}/download"
    codes = [client.get(url) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    limited = codes[-1]
    assert 1 <= int(limited["Retry-After"]) <= 60 and "秒后再试" in limited.json()["detail"]
    web = client.get(f"/data/resources/{resource.pk}/download/")
    assert web.status_code == 429 and web["Retry-After"].isdigit()
    refused = client.get(f"/api/v1/data/resources/{closed.pk}/download", **bearer(world.admin))
    assert refused.status_code == 403 and "不予开放" in refused.json()["detail"]
    assert AccessLog.objects.filter(dataset=open_ds, allowed=False).count() == 2
