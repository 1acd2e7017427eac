"""Exports (CSV, Excel, JSON) of the compute platform's lists: the public pools and hubs, an enterprise's jobs
and bills, a department's voucher applications. Each file opens, and holds the rows the viewer may see and
nothing more."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from test_compute_app_support import build_compute_world, make_program, make_voucher, submit

from gaodi.apps.compute import actions
from gaodi.apps.compute.forms import ApplicationForm
from gaodi.apps.compute.models import Pool
from gaodi.apps.core.models import Membership, Organization, User
from gaodi.engines.compute.backends import Usage


@pytest.fixture
def compute_world(world, settings, tmp_path):
    return build_compute_world(world, settings, tmp_path)


def rows(response, fmt: str) -> list[dict]:
    """The data rows of an export, keyed by the English part of each header."""
    assert response.status_code == 200, response.content[:300]
    assert 'filename="' in response["Content-Disposition"] and response["Content-Disposition"].endswith(f'.{fmt}"')
    if fmt == "json":
        return json.loads(response.content)["items"]
    if fmt == "csv":
        text = response.content.decode("utf-8")
        assert text.startswith("\ufeff")
        table = list(csv.reader(io.StringIO(text[1:])))
    else:
        sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
        table = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    header, *body = table
    return [dict(zip(header, line, strict=True)) for line in body]


def column(items: list[dict], key: str) -> list[str]:
    """One column, whichever format: JSON keys are field names, CSV/Excel headers are "中文 English"."""
    out = []
    for item in items:
        if key in item:
            out.append(str(item[key]))
        else:
            out.append(str(next(v for h, v in item.items() if h.split(" ", 1)[-1] == key or h == key)))
    return out


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_public_pools_and_hubs_export(client, compute_world, fmt):
    w = compute_world
    Pool.objects.filter(pk=w.pool_b.pk).update(active=False)  # a withdrawn pool is not published
    items = rows(client.get(f"/compute/?format={fmt}"), fmt)
    codes = column(items, "code" if fmt == "json" else "Pool")
    assert codes == ["sh-local"]
    prices = column(items, "price_per_hour" if fmt == "json" else "List price (CNY per accelerator-hour)")
    assert prices == ["120.00"]
    hubs = rows(client.get(f"/compute/?table=hubs&format={fmt}"), fmt)
    assert len(hubs) == 8  # every national hub, with or without capacity
    counts = dict(zip(column(hubs, "hub" if fmt == "json" else "Hub code"),
                      column(hubs, "count" if fmt == "json" else "Accelerators"), strict=True))
    assert counts["yangtze_river_delta"] == "8" and counts["ningxia"] == "0"


def test_public_export_refuses_an_unknown_format(client, compute_world):
    response = client.get("/compute/?format=pdf")
    assert response.status_code == 400 and "csv" in response.content.decode()


def _bill(job, minutes=2):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return actions.bill_usage(job, Usage(start, start + timedelta(minutes=minutes), minutes * 60.0, job.accelerators,
                                         1, minutes * 60.0 * job.accelerators, minutes * 60.0, source="test"))


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_an_enterprise_exports_its_own_jobs_and_bills_only(client, compute_world, fmt):
    w = compute_world
    voucher = make_voucher(w.alice, w.ent_a, w.ron, w.program, "100")
    mine = [submit(w.alice, w.ent_a, name=f"甲作业{i}", vouchers=[str(voucher.pk)]) for i in range(2)]
    theirs = submit(w.bob, w.ent_b, name="乙作业")
    _bill(mine[0])
    _bill(theirs)
    client.force_login(w.alice)
    jobs = rows(client.get(f"/compute/workspace/jobs/?format={fmt}"), fmt)
    assert sorted(column(jobs, "name" if fmt == "json" else "Name")) == ["甲作业0", "甲作业1"]
    assert set(column(jobs, "organization" if fmt == "json" else "Enterprise")) == {w.ent_a.name}
    billed = next(j for j in jobs if column([j], "name" if fmt == "json" else "Name")[0] == "甲作业0")
    assert column([billed], "list_price" if fmt == "json" else "List price") == ["4.00"]  # 2 min at 120/h
    assert column([billed], "subsidy" if fmt == "json" else "Subsidy") == ["1.20"]
    bills = rows(client.get(f"/compute/workspace/bills/?format={fmt}"), fmt)
    assert column(bills, "job" if fmt == "json" else "Job") == [str(mine[0].pk)]
    assert voucher.number in column(bills, "vouchers" if fmt == "json" else "Vouchers charged")[0]
    # Filtered by state, still only the firm's own rows.
    assert rows(client.get(f"/compute/workspace/jobs/?state=completed&format={fmt}"), fmt) == []


def test_job_and_bill_lists_need_an_enterprise(client, compute_world):
    w = compute_world
    assert client.get("/compute/workspace/bills/?format=csv").status_code == 302  # to the login page
    client.force_login(w.nobody)
    assert client.get("/compute/workspace/jobs/?format=csv").status_code == 403
    assert client.get("/compute/workspace/bills/").status_code == 403
    client.force_login(w.alice)
    submit(w.alice, w.ent_a, name="页面上的作业")
    page = client.get("/compute/workspace/jobs/")
    assert page.status_code == 200 and "页面上的作业" in page.content.decode()
    assert client.get("/compute/workspace/bills/").status_code == 200


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_a_department_exports_the_applications_to_its_own_programmes(client, compute_world, fmt):
    w = compute_world
    xuhui = Organization.objects.create(code="Q310104", name="上海市徐汇区人民政府", kind="district", district="310104")
    dora = User.objects.create_user(username="dora", password="correct-horse-battery")
    Membership.objects.create(user=dora, organization=xuhui, role="reviewer")
    district = make_program(dora, xuhui, code="xh-topup", name="徐汇区算力券", level="district", district="310104")
    city_app = make_voucher(w.alice, w.ent_a, w.ron, w.program, "300").application
    pending = actions.create_application(w.bob, w.ent_b, ApplicationForm(data={
        "program": str(w.program.pk), "amount_requested": "200", "purpose": "训练行业大模型，预计 100 卡时。"}))
    actions.create_application(w.alice, w.ent_a, ApplicationForm(data={  # a draft: the firm's own business
        "program": str(make_program(w.ron, w.economy, code="second").pk), "amount_requested": "50",
        "purpose": "训练行业大模型，预计 100 卡时。"}), submit=False)
    district_app = actions.create_application(w.alice, w.ent_a, ApplicationForm(data={
        "program": str(district.pk), "amount_requested": "80", "purpose": "训练行业大模型，预计 100 卡时。"}))

    client.force_login(w.ron)
    items = rows(client.get(f"/compute/review/applications/?format={fmt}"), fmt)
    ids = sorted(int(x) for x in column(items, "id" if fmt == "json" else "Application"))
    assert ids == sorted([city_app.pk, pending.pk])  # not the draft, not the district's
    assert set(column(items, "program" if fmt == "json" else "Programme")) == {w.program.code}
    submitted = rows(client.get(f"/compute/review/applications/?state=submitted&format={fmt}"), fmt)
    assert [int(x) for x in column(submitted, "id" if fmt == "json" else "Application")] == [pending.pk]

    client.force_login(dora)
    items = rows(client.get(f"/compute/review/applications/?format={fmt}"), fmt)
    assert [int(x) for x in column(items, "id" if fmt == "json" else "Application")] == [district_app.pk]


def test_the_department_list_is_for_departments(client, compute_world):
    w = compute_world
    client.force_login(w.alice)
    assert client.get("/compute/review/applications/").status_code == 403
    assert client.get("/compute/review/applications/?format=json").status_code == 403
    client.force_login(w.ron)
    make_voucher(w.alice, w.ent_a, w.ron, w.program, "300")
    page = client.get("/compute/review/applications/")
    assert page.status_code == 200 and w.ent_a.name in page.content.decode()
