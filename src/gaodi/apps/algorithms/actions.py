"""Business operations on filings and disclosure batches: one function each, one transaction each,
each writing its audit entry. Views, the API, the CLI and the admin all call these."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import date

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gaodi.apps.core import audit, search
from gaodi.apps.core.choices import OrgKind, Role
from gaodi.apps.core.models import Organization
from gaodi.apps.core.notifications import members_of, notify
from gaodi.apps.core.permissions import require

from .forms import CONTENT_FIELDS, FilingForm, submission_errors
from .models import AlgorithmFiling, Category, DisclosureBatch, DisclosureItem, FilingSerial, Kind, State
from .tasks import render_batch_exports
from .workflows import FILING

SEARCH_DOC = "filing"


def _validated(form: FilingForm) -> dict:
    if not form.is_valid():
        raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
    return form.cleaned_data


def _store_report(filing: AlgorithmFiling, form: FilingForm) -> None:
    upload = form.cleaned_data.get("report")
    if not upload:
        return
    checked = form.checked_report
    filing.report_token = secrets.token_hex(16)
    filing.report_extension = checked.extension
    filing.report_sha256 = checked.sha256
    filing.report_name = (upload.name or "")[-200:]
    filing.report.save("report", upload, save=False)


def create_filing(user, organization: Organization, form: FilingForm) -> AlgorithmFiling:
    """Save a new draft for the user's enterprise."""
    if organization.kind != OrgKind.ENTERPRISE or organization.pk not in user.organization_ids(Role.MEMBER, Role.ADMIN):
        raise PermissionDenied(_("您不是该企业的成员，不能为其备案。"))
    data = _validated(form)
    with transaction.atomic():
        filing = AlgorithmFiling(organization=organization, created_by=user, district=organization.district,
                                 department=data["department"])
        for name in CONTENT_FIELDS:
            setattr(filing, name, data.get(name) or "")
        _store_report(filing, form)
        filing.save()
        audit.record(user, "filing.create", filing, {"name": filing.name})
    return filing


def update_filing(user, filing: AlgorithmFiling, form: FilingForm) -> AlgorithmFiling:
    require(user, "change", filing)
    data = _validated(form)
    with transaction.atomic():
        filing = AlgorithmFiling.objects.select_for_update().get(pk=filing.pk)
        require(user, "change", filing)  # re-check under the lock: a reviewer may have acted meanwhile
        changed = [n for n in CONTENT_FIELDS if getattr(filing, n) != (data.get(n) or "")]
        for name in CONTENT_FIELDS:
            setattr(filing, name, data.get(name) or "")
        filing.department = data["department"]
        _store_report(filing, form)
        filing.save()
        audit.record(user, "filing.update", filing, {"fields": changed, "report": bool(data.get("report"))})
    return filing


def _reviewers(filing: AlgorithmFiling):
    return members_of(filing.department_id, Role.REVIEWER)


def _owners(filing: AlgorithmFiling):
    return members_of(filing.organization_id, Role.MEMBER, Role.ADMIN)


def _url(filing: AlgorithmFiling, review: bool = False) -> str:
    return reverse("algorithms:review_detail" if review else "algorithms:workspace_detail", args=[filing.pk])


def submit_filing(user, filing: AlgorithmFiling) -> AlgorithmFiling:
    """Validate completeness and send the filing to its department with a working-day deadline."""
    require(user, "submit", filing)
    with transaction.atomic():
        filing = AlgorithmFiling.objects.select_for_update().get(pk=filing.pk)
        errors = submission_errors(filing)
        if errors:
            raise ValidationError(errors)
        FILING.apply(filing, "submit", user)
        filing.submitted_at = timezone.now()
        filing.save(update_fields=["submitted_at"])
        audit.record(user, "filing.submit", filing, {"deadline": filing.deadline})
        notify(_reviewers(filing), _("新的算法备案待审核：%(name)s") % {"name": filing.name}, _url(filing, True))
    return filing


def _transition(user, filing: AlgorithmFiling, name: str, comment: str = "") -> AlgorithmFiling:
    with transaction.atomic():
        filing = AlgorithmFiling.objects.select_for_update().get(pk=filing.pk)
        FILING.apply(filing, name, user, comment)
        audit.record(user, f"filing.{name}", filing, {"comment": comment})
        return filing


def return_filing(user, filing: AlgorithmFiling, comment: str) -> AlgorithmFiling:
    with transaction.atomic():
        filing = _transition(user, filing, "return", comment)
        notify(_owners(filing), _("您的算法备案“%(name)s”被退回修改：%(c)s") % {"name": filing.name, "c": comment},
               _url(filing))
    return filing


def reject_filing(user, filing: AlgorithmFiling, comment: str) -> AlgorithmFiling:
    with transaction.atomic():
        filing = _transition(user, filing, "reject", comment)
        notify(_owners(filing), _("您的算法备案“%(name)s”未予备案：%(c)s") % {"name": filing.name, "c": comment},
               _url(filing))
    return filing


def withdraw_filing(user, filing: AlgorithmFiling) -> AlgorithmFiling:
    return _transition(user, filing, "withdraw")


def approve_filing(user, filing: AlgorithmFiling, comment: str = "") -> AlgorithmFiling:
    """Approve: a new filing gets its number; a change version takes over its predecessor's number."""
    with transaction.atomic():
        filing = _transition(user, filing, "approve", comment)
        filing.approved_at = timezone.now()
        if filing.kind == Kind.CHANGE and filing.previous_id:
            previous = AlgorithmFiling.objects.select_for_update().get(pk=filing.previous_id)
            filing.filing_number = previous.filing_number
            FILING.apply(previous, "supersede", user, _("由版本 %(v)d 取代") % {"v": filing.version}, system=True)
            search.remove(SEARCH_DOC, previous.pk)
        else:
            filing.filing_number = issue_filing_number(filing)
        filing.save(update_fields=["approved_at", "filing_number"])
        search.index(SEARCH_DOC, filing.pk, filing_search_body(filing))
        audit.record(user, "filing.number_issued", filing, {"filing_number": filing.filing_number})
        notify(_owners(filing), _("您的算法“%(name)s”已备案，编号 %(no)s") % {"name": filing.name, "no": filing.filing_number},
               _url(filing))
    return filing


def issue_filing_number(filing: AlgorithmFiling, year: int | None = None) -> str:
    """Filing number: REGION-ORG-YEAR-SERIAL, e.g. 310104-E0042-2026-0007 (docs/filings.md).

    REGION is the enterprise's district code (the platform's region code if none), ORG its platform
    code, SERIAL a per-region, per-year counter taken under a row lock, so numbers are unique.
    """
    region = filing.district or settings.GAODI_REGION_CODE
    year = year or timezone.localdate().year
    serial, _created = FilingSerial.objects.select_for_update().get_or_create(region=region, year=year)
    serial.last += 1
    serial.save(update_fields=["last"])
    return f"{region}-{filing.organization.code}-{year}-{serial.last:04d}"


def request_change(user, filing: AlgorithmFiling) -> AlgorithmFiling:
    """Open a change filing: a new draft version carrying the current content, reviewed like a new one."""
    require(user, "request_change", filing)
    with transaction.atomic():
        filing = AlgorithmFiling.objects.select_for_update().get(pk=filing.pk)
        if filing.state != State.APPROVED:
            raise ValidationError({"state": _("只有已备案的算法可以申请变更。")})
        open_change = filing.changes.filter(state__in=[State.DRAFT, State.SUBMITTED, State.RETURNED]).first()
        if open_change:
            raise ValidationError({"state": _("该算法已有进行中的变更（版本 %(v)d），请先完成或撤回。") % {"v": open_change.version}})
        change = AlgorithmFiling(
            organization=filing.organization, department=filing.department, kind=Kind.CHANGE, previous=filing,
            version=filing.version + 1, district=filing.district, created_by=user,
            report=filing.report, report_name=filing.report_name, report_token=filing.report_token,
            report_extension=filing.report_extension, report_sha256=filing.report_sha256,
        )
        for name in CONTENT_FIELDS:
            setattr(change, name, getattr(filing, name))
        change.save()
        audit.record(user, "filing.request_change", change, {"previous": filing.pk})
    return change


def request_deregistration(user, filing: AlgorithmFiling, reason: str) -> AlgorithmFiling:
    with transaction.atomic():
        open_change = filing.changes.filter(state__in=[State.DRAFT, State.SUBMITTED, State.RETURNED]).first()
        if open_change:
            raise ValidationError({"state": _("该算法有进行中的变更（版本 %(v)d），请先撤回变更再申请注销。")
                                            % {"v": open_change.version}})
        filing = _transition(user, filing, "request_deregistration", reason)
        notify(_reviewers(filing), _("算法备案注销申请待审核：%(name)s") % {"name": filing.name}, _url(filing, True))
    return filing


def decide_deregistration(user, filing: AlgorithmFiling, approve: bool, comment: str = "") -> AlgorithmFiling:
    name = "approve_deregistration" if approve else "refuse_deregistration"
    with transaction.atomic():
        filing = _transition(user, filing, name, comment)
        search.index(SEARCH_DOC, filing.pk, filing_search_body(filing))
        notify(_owners(filing), _("您的注销申请已处理：%(name)s — %(state)s") % {"name": filing.name,
               "state": filing.get_state_display()}, _url(filing))
    return filing


def filing_search_body(filing: AlgorithmFiling) -> str:
    """What a filing is found by. Category labels go in both languages, whatever the reviewer's UI
    language, so a search in Chinese or English finds the same filings."""
    labels = []
    for language in ("zh-hans", "en"):
        with translation.override(language):
            labels.append(str(Category(filing.category).label) if filing.category in Category.values else "")
    return " ".join([
        filing.name, filing.filing_number, filing.organization.name, filing.organization.name_en,
        *labels, filing.category, filing.domain, filing.scenarios, filing.purpose,
        filing.products, filing.public_text,
    ])


def publish_batch(user, department: Organization, title: str, period_start: date, period_end: date,
                  note: str = "", corrects: DisclosureBatch | None = None) -> DisclosureBatch:
    """Freeze the department's filings approved in [period_start, period_end] as a numbered batch."""
    if not department.pk or department.pk not in user.organization_ids(Role.PUBLISHER):
        raise PermissionDenied(_("您不是该部门的发布员，不能发布公示批次。"))
    if period_start > period_end:
        raise ValidationError({"period_end": _("截止日期不能早于起始日期。")})
    if period_end > timezone.localdate():
        raise ValidationError({"period_end": _("截止日期不能晚于今天：公示的是已经备案的算法。")})
    with transaction.atomic():
        # Lock the department row: batch numbers are counted per department and must not collide.
        Organization.objects.select_for_update().get(pk=department.pk)
        _check_overlap(department, period_start, period_end, corrects)
        filings = list(
            AlgorithmFiling.objects.select_related("organization")
            .filter(department=department, approved_at__date__gte=period_start, approved_at__date__lte=period_end)
            .exclude(state__in=[State.SUBMITTED, State.DRAFT, State.RETURNED, State.REJECTED, State.WITHDRAWN])
            .order_by("approved_at", "pk")
        )
        if not filings:
            raise ValidationError({"period_start": _("该期间内没有本部门准予备案的算法，无需发布。")})
        now = timezone.now()
        batch = DisclosureBatch(
            number=_next_batch_number(department, timezone.localtime(now).year), title=title, department=department,
            period_start=period_start, period_end=period_end, published_at=now, published_by=user,
            corrects=corrects, note=note, item_count=len(filings),
        )
        items = [_item(f, i) for i, f in enumerate(filings, start=1)]
        batch.content_sha256 = hashlib.sha256(json.dumps([_item_dict(i) for i in items], ensure_ascii=False,
                                                         sort_keys=True).encode()).hexdigest()
        batch.save()
        for item in items:
            item.batch = batch
        DisclosureItem.objects.bulk_create(items)
        transaction.on_commit(lambda: render_batch_exports.enqueue(batch.pk))
        audit.record(user, "batch.publish", batch, {"number": batch.number, "items": len(items),
                                                   "sha256": batch.content_sha256,
                                                   "corrects": corrects.number if corrects else None})
    return batch


def _check_overlap(department, start, end, corrects) -> None:
    overlapping = DisclosureBatch.objects.filter(department=department, period_start__lte=end, period_end__gte=start)
    if corrects is not None:
        if corrects.department_id != department.pk:
            raise ValidationError({"corrects": _("只能更正本部门发布的批次。")})
        overlapping = overlapping.exclude(Q(pk=corrects.pk) | Q(corrects=corrects))
    if overlapping.exists():
        other = overlapping.first()
        raise ValidationError({"period_start": _("期间与已发布的批次 %(no)s 重叠；如需更正，请填写被更正的批次编号。")
                                              % {"no": other.number}})


def _next_batch_number(department: Organization, year: int) -> str:
    count = DisclosureBatch.objects.filter(department=department, published_at__year=year).count()
    return f"GS-{department.code}-{year}-{count + 1:03d}"


def _item(filing: AlgorithmFiling, position: int) -> DisclosureItem:
    return DisclosureItem(
        filing=filing, position=position, filing_number=filing.filing_number, name=filing.name,
        organization_name=filing.organization.name, category=filing.category, role=filing.role,
        domain=filing.domain, district=filing.district, approved_on=timezone.localtime(filing.approved_at).date(),
        public_text=filing.public_text,
    )


def _item_dict(item: DisclosureItem) -> dict:
    return {"position": item.position, "filing_number": item.filing_number, "name": item.name,
            "organization": item.organization_name, "category": item.category, "role": item.role,
            "domain": item.domain, "district": item.district, "approved_on": item.approved_on.isoformat(),
            "public_text": item.public_text}
