"""Billing and the double-entry ledger: idempotent redemptions, vouchers never overspent, stacking of
programmes, expired vouchers, and the balance invariant (debits = credits in every transaction)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone
from test_compute_app_support import build_compute_world, expired, make_program, make_voucher, submit

from gaodi.apps.compute import actions, ledger
from gaodi.apps.compute.choices import TransactionKind
from gaodi.apps.compute.models import LedgerEntry, LedgerTransaction, Redemption, Voucher
from gaodi.engines.compute.backends import Usage


@pytest.fixture
def compute_world(world, settings, tmp_path):
    return build_compute_world(world, settings, tmp_path)


def usage(hours: float = 1.0, accelerators: int = 1, start: datetime | None = None) -> Usage:
    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    return Usage(start=start, end=start + timedelta(hours=hours), elapsed_s=hours * 3600, accelerators=accelerators,
                 cpus=1, accelerator_seconds=hours * 3600 * accelerators, cpu_seconds=hours * 3600, source="test")


def voucher_(w, program, amount: str) -> Voucher:
    """A voucher of ent_a valid since a week ago, so usage periods of the last hours fall inside it."""
    v = make_voucher(w.alice, w.ent_a, w.ron, program, amount)
    Voucher.objects.filter(pk=v.pk).update(valid_from=timezone.localdate() - timedelta(days=7))
    v.refresh_from_db()
    return v


def assert_books_balance() -> None:
    assert ledger.unbalanced_transactions() == []
    totals = LedgerEntry.objects.aggregate(d=Sum("debit"), c=Sum("credit"))
    assert totals["d"] == totals["c"]
    for voucher in Voucher.objects.all():
        assert voucher.balance == ledger.balance(ledger.voucher_account(voucher)) >= 0


def test_redemption_is_idempotent(compute_world):
    w = compute_world
    voucher = voucher_(w, w.program, "1000")
    job = submit(w.alice, w.ent_a, vouchers=[str(voucher.pk)])
    u = usage(hours=2)  # 2 accelerator-hours at 120 = 240; 30% = 72
    first = actions.bill_usage(job, u)
    entries, transactions = LedgerEntry.objects.count(), LedgerTransaction.objects.count()
    again = actions.bill_usage(job, u)
    assert again.pk == first.pk
    assert (LedgerEntry.objects.count(), LedgerTransaction.objects.count()) == (entries, transactions)
    assert Redemption.objects.count() == 1
    assert (first.list_price, first.subsidy, first.payable) == (Decimal("240.00"), Decimal("72.00"),
                                                                Decimal("168.00"))
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("928.00")
    # The same key returns the first bill even with other figures; another period is a new bill.
    assert actions.bill_usage(job, usage(hours=5), key=first.idempotency_key).pk == first.pk
    second = actions.bill_usage(job, usage(hours=1, start=u.start - timedelta(hours=3)))
    assert second.pk != first.pk and second.subsidy == Decimal("36.00")
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("892.00")
    assert_books_balance()


def test_bill_never_charges_a_voucher_beyond_its_balance(compute_world):
    w = compute_world
    voucher = voucher_(w, w.program, "50")
    job = submit(w.alice, w.ent_a, vouchers=[str(voucher.pk)])
    bill = actions.bill_usage(job, usage(hours=10))  # 1200 list, 30% would be 360
    assert (bill.list_price, bill.subsidy, bill.payable) == (Decimal("1200.00"), Decimal("50.00"), Decimal("1150.00"))
    assert bill.lines.get().note == "受算力券余额限制" and bill.lines.get().amount == Decimal("50.00")
    later = actions.bill_usage(job, usage(hours=1, start=datetime.now(UTC) - timedelta(hours=13)))
    assert later.subsidy == 0 and later.payable == later.list_price
    assert any("余额已用完" in n for n in later.note_texts)
    voucher.refresh_from_db()
    assert voucher.balance == 0
    assert_books_balance()


def test_stacked_city_and_district_vouchers(compute_world):
    w = compute_world
    from gaodi.apps.core.models import Membership, Organization

    xuhui = Organization.objects.create(code="Q310104", name="上海市徐汇区人民政府", kind="district", district="310104")
    Membership.objects.create(user=w.nobody, organization=xuhui, role="reviewer")
    sme = make_program(w.ron, w.economy, code="sme", rate="0.30", sme_only="on")  # city: 30% + 30% capped at 50%
    topup = make_program(w.nobody, xuhui, code="xuhui-topup", rate="0.10", level="district", district="310104")
    vouchers = [voucher_(w, w.program, "1000"), voucher_(w, sme, "1000")]
    district = make_voucher(w.alice, w.ent_a, w.nobody, topup, "1000")
    Voucher.objects.filter(pk=district.pk).update(valid_from=timezone.localdate() - timedelta(days=7))
    vouchers.append(district)
    job = submit(w.alice, w.ent_a, vouchers=[str(v.pk) for v in vouchers])
    assert [line["program"] for line in job.quote["lines"]] == ["sh-test-general", "sme", "xuhui-topup"]
    bill = actions.bill_usage(job, usage(hours=1))  # list 120
    amounts = {line.program.code: line.amount for line in bill.lines.all()}
    assert amounts == {"sh-test-general": Decimal("36.00"), "sme": Decimal("24.00"), "xuhui-topup": Decimal("12.00")}
    assert bill.subsidy == Decimal("72.00") and bill.payable == Decimal("48.00")
    assert "叠加上限使补贴比例由 30% 下调" in bill.lines.get(program=sme).note
    assert_books_balance()


def test_expired_voucher_is_not_charged_at_billing(compute_world):
    w = compute_world
    voucher = make_voucher(w.alice, w.ent_a, w.ron, w.program, "1000")
    job = submit(w.alice, w.ent_a, vouchers=[str(voucher.pk)])
    expired(voucher)
    bill = actions.bill_usage(job, usage(hours=1))
    assert bill.subsidy == 0 and bill.payable == Decimal("120.00")
    assert any("不在有效期内" in n for n in bill.note_texts)
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("1000.00")


def test_every_movement_is_balanced_and_unbalanced_posts_are_refused(compute_world):
    w = compute_world
    voucher = voucher_(w, w.program, "300")
    job = submit(w.alice, w.ent_a, vouchers=[str(voucher.pk)])
    actions.bill_usage(job, usage(hours=3))
    kinds = set(LedgerTransaction.objects.values_list("kind", flat=True))
    assert kinds == {TransactionKind.PROGRAM_FUNDING, TransactionKind.VOUCHER_ISSUE, TransactionKind.REDEMPTION}
    assert_books_balance()
    # Budget conservation: budget = unallocated + issued; issued = balances + spent.
    spent = Redemption.objects.aggregate(s=Sum("subsidy"))["s"]
    assert ledger.program_unallocated(w.program) + voucher.amount == w.program.budget
    voucher.refresh_from_db()
    assert voucher.balance + spent == voucher.amount
    assert -ledger.balance(ledger.funding_account(w.economy)) == w.program.budget
    before = LedgerEntry.objects.count()
    with pytest.raises(ValidationError):
        ledger.post(TransactionKind.REDEMPTION, "unbalanced", [
            ledger.Line(ledger.provider_receivable(w.prov_a), debit=Decimal("10.00")),
            ledger.Line(ledger.enterprise_payable(w.ent_a), credit=Decimal("9.99"))])
    with pytest.raises(ValidationError):
        ledger.post(TransactionKind.REDEMPTION, "negative", [
            ledger.Line(ledger.provider_receivable(w.prov_a), debit=Decimal("-1.00")),
            ledger.Line(ledger.enterprise_payable(w.ent_a), credit=Decimal("-1.00"))])
    assert LedgerEntry.objects.count() == before
    with pytest.raises(ValidationError):  # entries are evidence: insert-only
        LedgerEntry.objects.first().save()


def test_expired_vouchers_rest_returns_to_the_programme(compute_world, settings):
    w = compute_world
    settings.GAODI_COMPUTE_VOUCHER_GRACE_DAYS = 0
    voucher = expired(make_voucher(w.alice, w.ent_a, w.ron, w.program, "400"))
    assert ledger.program_unallocated(w.program) == Decimal("9600.00")
    assert actions.lapse_expired_vouchers(timezone.localdate() + timedelta(days=1)) == 1
    voucher.refresh_from_db()
    assert voucher.balance == 0 and voucher.lapsed_at is not None
    assert ledger.program_unallocated(w.program) == Decimal("10000.00")
    assert actions.lapse_expired_vouchers(timezone.localdate() + timedelta(days=1)) == 0
    assert_books_balance()
