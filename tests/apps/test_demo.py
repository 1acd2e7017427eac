"""The demo data: realistic, complete (every workflow state), made through the real actions, and with an
intact audit chain that `gaodi audit verify` checks and that detects a tampered row."""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from gaodi.apps.algorithms.models import AlgorithmFiling, DisclosureBatch, Kind, State
from gaodi.apps.core import audit, demo, search, workflow
from gaodi.apps.core.choices import DepartmentDuty, District, OrgKind, Role
from gaodi.apps.core.models import AuditEntry, Membership, Organization, User
from gaodi.engines.identifiers import is_valid_org_code, is_valid_uscc

NUMBER = re.compile(r"^(310\d{3})-(E\d{4})-\d{4}-\d{4}$")


@pytest.fixture(scope="module")
def demo_media(tmp_path_factory):
    return tmp_path_factory.mktemp("demo-media")


@pytest.fixture(scope="module")
def demo_counts(django_db_setup, django_db_blocker, demo_media):
    """Load the demo once for this module, inside a transaction rolled back at the end, so no other
    test module ever sees the data. Each test runs in its own savepoint on top of it."""
    with django_db_blocker.unblock(), override_settings(
        MEDIA_ROOT=str(demo_media), PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        GAODI_COMPUTE_JOB_ROOT=str(demo_media / "compute-jobs"),
        GAODI_SIGNING_KEY_FILE=str(demo_media / "keys" / "ed25519.pem"),  # the demo signs certificates
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield demo.load_demo(seed=7)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


pytestmark = pytest.mark.django_db


def test_counts_cover_the_whole_platform(demo_counts):
    assert demo_counts["enterprises"] == demo.ENTERPRISE_COUNT == 100
    assert demo_counts["districts"] == 16
    assert 55 <= demo_counts["filings"] <= 70
    assert set(demo_counts["filings_by_state"]) == set(State.values)
    assert demo_counts["batches"] == 2
    assert demo_counts["filings"] == AlgorithmFiling.objects.count()
    assert demo_counts["audit_entries"] == AuditEntry.objects.count()


def test_every_state_is_present_in_the_database(demo_counts):
    states = Counter(AlgorithmFiling.objects.values_list("state", flat=True))
    assert set(states) == set(State.values)
    assert states[State.APPROVED] >= 15
    assert all(states[s] >= 2 for s in State.values), states


def test_enterprises_are_spread_over_all_districts_with_valid_unique_codes(demo_counts):
    enterprises = Organization.objects.filter(kind=OrgKind.ENTERPRISE)
    assert set(enterprises.values_list("district", flat=True)) == set(District.values)
    codes = sorted(enterprises.values_list("code", flat=True))
    assert codes == [f"E{i:04d}" for i in range(1, 101)]
    credit = list(Organization.objects.exclude(credit_code="").values_list("credit_code", flat=True))
    assert len(credit) == len(set(credit))
    assert all(is_valid_uscc(c) and is_valid_org_code(c[8:17]) for c in credit)
    for e in enterprises:
        # Market-regulation registration, enterprise category, and the enterprise's own district.
        assert e.credit_code.startswith("91" + e.district), e.credit_code
        assert e.name.startswith("上海") and e.name.endswith("有限公司") and e.name_en.endswith("Co., Ltd.")
        assert e.founded_on is not None and e.employees and e.annual_revenue is not None


def test_enterprise_sizes_vary_and_most_are_smes(demo_counts):
    sizes = Counter(Organization.objects.filter(kind=OrgKind.ENTERPRISE).values_list("size_class", flat=True))
    assert set(sizes) == {"large", "medium", "small", "micro"}
    assert 5 <= sizes["large"] <= 25
    industries = set(Organization.objects.filter(kind=OrgKind.ENTERPRISE).values_list("industry", flat=True))
    assert {"software_it", "industry", "retail"} <= industries


def test_government_and_institutions(demo_counts):
    departments = Organization.objects.filter(kind=OrgKind.DEPARTMENT)
    assert sorted(departments.values_list("duty", flat=True)) == sorted(DepartmentDuty.values)
    assert sorted(departments.values_list("code", flat=True)) == [f"D{i:02d}" for i in range(1, 7)]
    districts = Organization.objects.filter(kind=OrgKind.DISTRICT)
    assert sorted(districts.values_list("district", flat=True)) == sorted(District.values)
    assert all(len(code) <= 12 for code in districts.values_list("code", flat=True))
    assert Organization.objects.filter(kind=OrgKind.TESTING_INSTITUTION).count() == 2
    assert Organization.objects.filter(kind=OrgKind.ASSOCIATION).count() == 1
    assert Organization.objects.filter(kind=OrgKind.COMMITTEE).count() == 1


def test_reviewers_and_publishers_in_two_departments(demo_counts):
    for role in (Role.REVIEWER, Role.PUBLISHER):
        # City departments only: the compute demo adds a district government's reviewer for top-ups.
        duties = set(Membership.objects.filter(role=role, organization__kind=OrgKind.DEPARTMENT)
                     .values_list("organization__duty", flat=True))
        assert duties == {DepartmentDuty.CYBERSPACE, DepartmentDuty.ECONOMY}, role
    reviewed = set(AlgorithmFiling.objects.exclude(state=State.DRAFT).values_list("department__duty", flat=True))
    assert reviewed == {DepartmentDuty.CYBERSPACE, DepartmentDuty.ECONOMY}
    assert User.objects.get(username="admin").is_superuser
    assert Membership.objects.filter(role__in=[Role.MEMBER, Role.ADMIN],
                                     organization__kind=OrgKind.ENTERPRISE).values("organization").distinct().count() >= 30


def test_printed_logins_exist_and_use_the_demo_password(demo_counts):
    for login in demo.DEMO_LOGINS:
        user = User.objects.get(username=login.username)
        assert user.check_password(demo.DEMO_PASSWORD)
        if login.organization_code:
            assert user.memberships.filter(organization__code=login.organization_code).exists()
    member = User.objects.get(username="e0001.member")
    own = AlgorithmFiling.objects.filter(organization__code="E0001")
    assert {State.APPROVED, State.SUPERSEDED, State.RETURNED, State.DRAFT} <= set(own.values_list("state", flat=True))
    assert member.has_org_role(Role.MEMBER)


def test_filings_went_through_the_workflow(demo_counts):
    for filing in AlgorithmFiling.objects.select_related("organization"):
        transitions = [h.transition for h in workflow.history(filing)]
        actions = set(AuditEntry.objects.filter(object_type="algorithms.algorithmfiling", object_id=str(filing.pk))
                      .values_list("action", flat=True))
        assert ("filing.create" in actions) == (filing.kind == Kind.NEW)
        if filing.state == State.DRAFT:
            assert transitions == []
        elif filing.state == State.WITHDRAWN:
            assert transitions[-1] == "withdraw"
        else:
            assert transitions[0] == "submit" and "filing.submit" in actions
        if filing.state in (State.APPROVED, State.SUPERSEDED, State.DEREGISTERED, State.DEREGISTRATION_REQUESTED):
            assert "approve" in transitions and "filing.number_issued" in actions
            match = NUMBER.match(filing.filing_number)
            assert match and match.groups() == (filing.district, filing.organization.code), filing.filing_number
        else:
            assert filing.filing_number == "" and filing.approved_at is None
        if filing.state == State.RETURNED:
            assert transitions[-1] == "return" and workflow.history(filing).last().comment


def test_changes_supersede_and_keep_the_filing_number(demo_counts):
    superseded = AlgorithmFiling.objects.filter(state=State.SUPERSEDED)
    assert superseded.count() >= 2
    for old in superseded:
        new = old.changes.get(state=State.APPROVED)
        assert new.kind == Kind.CHANGE and new.version == old.version + 1
        assert new.filing_number == old.filing_number
        assert new.approved_at > old.approved_at
    numbers = Counter(AlgorithmFiling.objects.filter(kind=Kind.NEW).exclude(filing_number="")
                      .values_list("filing_number", flat=True))
    assert max(numbers.values()) == 1  # new filings never share a number


def test_filing_content_is_complete_and_reports_are_real_pdfs(demo_counts, demo_media, settings):
    settings.MEDIA_ROOT = demo_media  # where load_demo stored the reports
    with_report = 0
    for filing in AlgorithmFiling.objects.exclude(state=State.DRAFT):
        assert len(filing.public_text) >= 30 and len(filing.principle) >= 20 and len(filing.mechanism) >= 20
        assert filing.category in {"generation", "recommendation", "ranking", "retrieval", "scheduling"}
        data = filing.report.read()
        filing.report.close()
        assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
        assert hashlib.sha256(data).hexdigest() == filing.report_sha256
        with_report += 1
    assert with_report >= 45
    assert set(AlgorithmFiling.objects.values_list("category", flat=True)) == {
        "generation", "recommendation", "ranking", "retrieval", "scheduling"}


def test_report_pdf_cross_reference_table_is_exact():
    pdf = demo.report_pdf("算法安全自评估报告", ["中文一行", "ASCII (with parens) and \\ backslash"], "某公司")
    startxref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[startxref:].startswith(b"xref\n0 10\n")
    entries = pdf[startxref:].split(b"\n")[3:12]
    for number, entry in enumerate(entries, start=1):
        assert len(entry) == 19 and entry.endswith(b" 00000 n ")  # 20 bytes with the newline
        offset = int(entry[:10])
        assert pdf[offset:].startswith(f"{number} 0 obj\n".encode())
    length = int(re.search(rb"/Length (\d+) >>\nstream\n", pdf).group(1))
    body = pdf.split(b"stream\n", 1)[1]
    assert body[length:].startswith(b"\nendstream")
    assert "中文一行".encode("utf-16-be").hex().upper().encode() in pdf


def test_approvals_span_eighteen_months_and_two_consecutive_batches(demo_counts):
    today = timezone.localdate()
    approved = [timezone.localtime(t).date() for t in
                AlgorithmFiling.objects.exclude(approved_at=None).values_list("approved_at", flat=True)]
    assert min(approved) >= today - timedelta(days=demo.APPROVAL_WINDOW_DAYS + 100)
    assert max(approved) < today
    assert (max(approved) - min(approved)).days > 365
    first, second = DisclosureBatch.objects.order_by("period_start")
    assert second.period_start == first.period_end + timedelta(days=1)
    assert first.item_count > 0 and second.item_count > 0
    for batch in (first, second):
        assert batch.department.code == "D04" and batch.published_by.username == "cyber-publisher"
        assert batch.items.count() == batch.item_count
        assert all(batch.period_start <= i.approved_on <= batch.period_end for i in batch.items.all())


def test_search_index_holds_the_public_filings(demo_counts):
    public = AlgorithmFiling.objects.filter(state__in=[State.APPROVED, State.DEREGISTERED,
                                                       State.DEREGISTRATION_REQUESTED])
    found = search.filter_queryset(AlgorithmFiling.objects.all(), "filing", "推荐")
    assert found.exists()
    assert set(found.values_list("state", flat=True)) <= {State.APPROVED, State.DEREGISTERED,
                                                           State.DEREGISTRATION_REQUESTED}
    one = public.first()
    assert one in search.filter_queryset(AlgorithmFiling.objects.all(), "filing", one.filing_number)


def test_audit_chain_is_intact_and_the_command_says_so(demo_counts, capsys):
    result = audit.verify()
    assert result.ok and result.checked == AuditEntry.objects.count() > 100
    assert AuditEntry.objects.order_by("-id").first().action == "demo.load"
    call_command("audit", "verify")
    assert capsys.readouterr().out.strip() == f"OK: {result.checked} entries, chain intact"


def test_tampered_audit_entry_is_reported_by_id(demo_counts):
    victim = AuditEntry.objects.filter(action="filing.approve").order_by("id")[3]
    AuditEntry.objects.filter(pk=victim.pk).update(data={"comment": "材料齐全，符合备案要求。（已篡改）"})
    result = audit.verify()
    assert not result.ok and result.broken_id == victim.pk
    assert result.checked == victim.pk - 1
    with pytest.raises(CommandError) as excinfo:
        call_command("audit", "verify")
    assert excinfo.value.returncode == 1
    assert f"audit entry {victim.pk}:" in str(excinfo.value) and "altered" in str(excinfo.value)


def test_deleted_audit_entry_is_reported(demo_counts):
    victim = AuditEntry.objects.order_by("id")[10]
    AuditEntry.objects.filter(pk=victim.pk)._raw_delete(AuditEntry.objects.db)
    result = audit.verify()
    assert result.broken_id == victim.pk + 1 and "missing" in result.reason


def test_has_data_guards_against_loading_twice(demo_counts):
    assert demo.has_data()


def test_plans_are_deterministic_for_a_seed():
    today = timezone.localdate()
    a = demo.plan_enterprises(random.Random(11))
    b = demo.plan_enterprises(random.Random(11))
    c = demo.plan_enterprises(random.Random(12))
    assert a == b and a != c
    assert len({s.name for s in a}) == len(a) == 100
    rng1, rng2 = random.Random(5), random.Random(5)
    p1 = demo.plan_filings(rng1, demo.plan_enterprises(rng1)[:demo.FILER_COUNT], today)
    p2 = demo.plan_filings(rng2, demo.plan_enterprises(rng2)[:demo.FILER_COUNT], today)
    assert [(p.outcome, p.enterprise.code, p.template.name, p.department, p.approved_on) for p in p1] == \
           [(p.outcome, p.enterprise.code, p.template.name, p.department, p.approved_on) for p in p2]


@pytest.mark.parametrize("seed", [1, 2, 3, 99, 2026])
def test_every_seed_puts_cyberspace_approvals_in_both_disclosure_periods(seed):
    rng = random.Random(seed)
    today = timezone.localdate()
    plans = demo.plan_filings(rng, demo.plan_enterprises(rng)[:demo.FILER_COUNT], today)
    for start, end in demo.disclosure_periods(today):
        assert any(p.department == DepartmentDuty.CYBERSPACE and p.approved_on and start <= p.approved_on <= end
                   for p in plans)
    for p in plans:
        if p.change_approved_on:
            assert p.approved_on < p.change_approved_on < today
