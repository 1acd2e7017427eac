"""The double-entry ledger of compute subsidies.

Every money movement is one `LedgerTransaction` of insert-only `LedgerEntry` rows whose debits equal
their credits (`post` refuses anything else). An account's balance is debits minus credits:

| account | normal side | balance means |
|---|---|---|
| funding (per department) | credit | money the department has put into its programs |
| program budget (per program) | debit | budget not yet issued as vouchers |
| voucher (per voucher) | debit | what is left on the voucher |
| enterprise payable (per firm) | credit | what the firm owes for compute beyond its vouchers |
| provider receivable (per provider) | debit | what the provider is owed at list price |

Movements:

- a program is funded with budget B: Dr program budget B, Cr funding B;
- a voucher of amount A is issued: Dr voucher A, Cr program budget A;
- a job's usage at list price L is billed with subsidy S_i from vouchers and P = L - sum(S_i) left for the
  firm: Dr provider receivable L, Cr voucher_i S_i, Cr enterprise payable P;
- an expired voucher's rest R goes back to its program: Dr program budget R, Cr voucher R.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from gaodi.apps.core.models import Organization

from .choices import AccountKind
from .models import ZERO, Account, LedgerEntry, LedgerTransaction, SubsidyProgram, Voucher

FEN = Decimal("0.01")


@dataclass(frozen=True)
class Line:
    account: Account
    debit: Decimal = ZERO
    credit: Decimal = ZERO


def post(kind: str, memo: str, lines: Iterable[Line], actor=None) -> LedgerTransaction:
    """Write one balanced transaction. Call inside the action's transaction (atomic)."""
    lines = [line for line in lines if line.debit or line.credit]
    for line in lines:
        if line.debit < 0 or line.credit < 0 or (line.debit and line.credit):
            raise ValidationError(_("记账分录金额无效：每条分录只能记借方或贷方的正数。"))
        if line.debit.as_tuple().exponent < -2 or line.credit.as_tuple().exponent < -2:
            raise ValidationError(_("记账分录金额须精确到分。"))
    debits = sum((line.debit for line in lines), ZERO)
    credits = sum((line.credit for line in lines), ZERO)
    if debits != credits:
        raise ValidationError(_("记账凭证借贷不平衡：借方 %(d)s，贷方 %(c)s。") % {"d": debits, "c": credits})
    tx = LedgerTransaction.objects.create(kind=kind, memo=memo[:300], actor=actor if getattr(actor, "pk", None)
                                          else None)
    LedgerEntry.objects.bulk_create(
        [LedgerEntry(transaction=tx, account=line.account, debit=line.debit, credit=line.credit) for line in lines]
    )
    return tx


def balance(account: Account) -> Decimal:
    """Debits minus credits."""
    totals = account.entries.aggregate(d=Coalesce(Sum("debit"), ZERO), c=Coalesce(Sum("credit"), ZERO))
    return (Decimal(totals["d"]) - Decimal(totals["c"])).quantize(FEN)


def _org_account(kind: str, org: Organization, label: str) -> Account:
    account, _created = Account.objects.get_or_create(
        kind=kind, organization=org, program=None, voucher=None, defaults={"name": f"{label} · {org.name}"})
    return account


def funding_account(department: Organization) -> Account:
    return _org_account(AccountKind.FUNDING, department, "财政资金来源")


def enterprise_payable(org: Organization) -> Account:
    return _org_account(AccountKind.ENTERPRISE_PAYABLE, org, "企业应付")


def provider_receivable(org: Organization) -> Account:
    return _org_account(AccountKind.PROVIDER_RECEIVABLE, org, "算力提供方应收")


def program_account(program: SubsidyProgram) -> Account:
    account, _created = Account.objects.get_or_create(
        kind=AccountKind.PROGRAM_BUDGET, program=program,
        defaults={"name": f"补贴项目预算 · {program.code}", "organization": program.department})
    return account


def voucher_account(voucher: Voucher) -> Account:
    account, _created = Account.objects.get_or_create(
        kind=AccountKind.VOUCHER, voucher=voucher,
        defaults={"name": f"算力券 · {voucher.number}", "organization": voucher.organization})
    return account


def program_unallocated(program: SubsidyProgram) -> Decimal:
    """Budget not yet issued as vouchers (the program budget account's balance)."""
    account = Account.objects.filter(kind=AccountKind.PROGRAM_BUDGET, program=program).first()
    return balance(account) if account else ZERO.quantize(FEN)


def unbalanced_transactions() -> list[int]:
    """Ids of transactions whose debits and credits differ (should always be empty)."""
    rows = (LedgerEntry.objects.values("transaction_id")
            .annotate(d=Coalesce(Sum("debit"), ZERO), c=Coalesce(Sum("credit"), ZERO)))
    return [r["transaction_id"] for r in rows if r["d"] != r["c"]]
