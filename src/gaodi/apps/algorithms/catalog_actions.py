"""Business operations on the recommended catalog: nominate, approve, reject, withdraw, remove, and the
suspension that follows a certificate's revocation. One transaction each, each writing its audit entry
and notifications; an approved entry is indexed for search."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gaodi.apps.core import audit, search
from gaodi.apps.core.choices import Role
from gaodi.apps.core.notifications import members_of, notify
from gaodi.engines import workdays

from .catalog_forms import NominationForm
from .catalog_models import CatalogEntry, CatalogState
from .catalog_workflows import CATALOG, REVIEW_DAYS
from .evaluation_models import EvaluationCertificate, EvaluationRequest, EvaluationState
from .models import AlgorithmFiling, State
from .policies import enterprise_ids

SEARCH_DOC = "catalog"


def _url(entry: CatalogEntry) -> str:
    return reverse("algorithms:catalog_detail", args=[entry.pk])


def _owners(entry: CatalogEntry):
    return members_of(entry.organization_id, Role.MEMBER, Role.ADMIN)


def _reviewers(entry: CatalogEntry):
    return members_of(entry.department_id, Role.REVIEWER)


def certificate_passed(certificate: EvaluationCertificate) -> bool:
    """The signed payload says the model passed, and every threshold check in it passed."""
    payload = json.loads(certificate.payload)
    checks = payload.get("checks") or []
    thresholds = [c for c in checks if c.get("required") or c.get("threshold") is not None]
    return payload.get("passed") is True and all(c.get("passed") is True for c in thresholds)


def ineligibility(evaluation: EvaluationRequest) -> str | None:
    """Why this evaluation cannot back a nomination now, or None when it can."""
    certificate = EvaluationCertificate.objects.filter(request=evaluation).first()
    if certificate is not None and certificate.revoked_at is not None:
        return _("该测评证书已被撤销，不能申报推荐目录。")
    if evaluation.state != EvaluationState.ISSUED or certificate is None:
        return _("只有已出具证书的测评可以申报推荐目录。")
    if evaluation.passed is not True or not certificate_passed(certificate):
        return _("只有全部阈值均通过的测评证书可以申报推荐目录。")
    if evaluation.filing.state != State.APPROVED:
        return _("只有处于已备案状态的算法可以申报推荐目录。")
    if CatalogEntry.objects.filter(filing=evaluation.filing, state=CatalogState.PENDING).exists():
        return _("该算法已有一项推荐目录申报正在审核，请等待审核结果。")
    if CatalogEntry.objects.filter(certificate=certificate, state=CatalogState.APPROVED).exists():
        return _("该算法已凭此证书列入推荐目录。")
    if CatalogEntry.objects.filter(certificate=certificate, state=CatalogState.REMOVED).exists():
        return _("审核部门已将凭此证书列入的条目移出推荐目录；请取得新的测评证书后再申报。")
    return None


def nominate(user, evaluation: EvaluationRequest, form: NominationForm) -> CatalogEntry:
    """The enterprise nominates the model its issued, passing certificate covers."""
    if evaluation.organization_id not in enterprise_ids(user):
        raise PermissionDenied(_("您不是该企业的成员，不能为其申报推荐目录。"))
    if not form.is_valid():
        raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
    with transaction.atomic():
        # Lock the filing: two nominations at once are serialised, the second sees the first.
        AlgorithmFiling.objects.select_for_update().filter(pk=evaluation.filing_id).first()
        evaluation = EvaluationRequest.objects.select_related("filing").get(pk=evaluation.pk)
        problem = ineligibility(evaluation)
        if problem:
            raise ValidationError(problem)
        filing = evaluation.filing
        try:
            with transaction.atomic():
                entry = CatalogEntry.objects.create(
                    filing=filing, certificate=evaluation.certificate, organization_id=evaluation.organization_id,
                    department_id=filing.department_id, justification=form.cleaned_data["justification"],
                    created_by=user, deadline=workdays.add_working_days(timezone.localdate(), REVIEW_DAYS))
        except IntegrityError:
            raise ValidationError(_("该算法已有一项推荐目录申报正在审核，请等待审核结果。")) from None
        audit.record(user, "catalog.nominate", entry, {
            "filing": filing.pk, "certificate": entry.certificate.certificate_id})
        notify(_reviewers(entry), _("新的推荐目录申报待审核：%(name)s") % {"name": filing.name}, _url(entry))
    return entry


def _decide(user, entry: CatalogEntry, name: str, comment: str) -> CatalogEntry:
    with transaction.atomic():
        entry = CatalogEntry.objects.select_for_update().get(pk=entry.pk)
        if name == "approve" and entry.certificate.revoked_at is not None:
            raise ValidationError(_("该申报所依据的测评证书已被撤销，不能列入推荐目录。"))
        CATALOG.apply(entry, name, user, comment)
        entry.decided_at, entry.decided_by, entry.decision_comment = timezone.now(), user, comment.strip()
        if name == "approve":
            entry.listed_at = entry.decided_at
        entry.save(update_fields=["decided_at", "decided_by", "decision_comment", "listed_at"])
        audit.record(user, f"catalog.{name}", entry, {"comment": entry.decision_comment})
        if name == "approve":
            search.index(SEARCH_DOC, entry.pk, search_body(entry))
            message = _("您的算法“%(name)s”已列入推荐目录") % {"name": entry.filing.name}
        else:
            message = _("您的推荐目录申报“%(name)s”未予列入：%(c)s") % {"name": entry.filing.name,
                                                                  "c": entry.decision_comment}
        notify(_owners(entry), message, _url(entry))
    return entry


def approve(user, entry: CatalogEntry, comment: str = "") -> CatalogEntry:
    return _decide(user, entry, "approve", comment)


def reject(user, entry: CatalogEntry, comment: str) -> CatalogEntry:
    return _decide(user, entry, "reject", comment)


def _end(user, entry: CatalogEntry, name: str, reason: str) -> CatalogEntry:
    """Take an entry out of the catalog (or end a pending nomination) through the workflow."""
    with transaction.atomic():
        entry = CatalogEntry.objects.select_for_update().get(pk=entry.pk)
        CATALOG.apply(entry, name, user, reason)
        entry.ended_at, entry.ended_by, entry.end_reason = timezone.now(), user, reason.strip()
        entry.save(update_fields=["ended_at", "ended_by", "end_reason"])
        audit.record(user, f"catalog.{name}", entry, {"reason": entry.end_reason})
        title = entry.filing.name
        if name == "withdraw":
            notify(_reviewers(entry), _("企业已撤回推荐目录条目“%(name)s”：%(r)s") % {"name": title, "r": entry.end_reason},
                   _url(entry))
        else:
            notify(_owners(entry), _("您的算法“%(name)s”已被移出推荐目录：%(r)s") % {"name": title, "r": entry.end_reason},
                   _url(entry))
    return entry


def withdraw(user, entry: CatalogEntry, reason: str) -> CatalogEntry:
    """The enterprise withdraws its pending nomination, or takes its listed model out of the catalog."""
    return _end(user, entry, "withdraw", reason)


def remove(user, entry: CatalogEntry, reason: str) -> CatalogEntry:
    """The reviewing department takes a listed entry out of the catalog, with a reason."""
    return _end(user, entry, "remove", reason)


def suspend_for_revoked_certificate(certificate: EvaluationCertificate, actor) -> list[CatalogEntry]:
    """Called inside the revocation's transaction: every pending or listed entry resting on the revoked
    certificate is suspended (system transition, history row, audit entry, notifications)."""
    suspended = []
    for entry in (CatalogEntry.objects.select_for_update().select_related("filing")
                  .filter(certificate=certificate, state__in=[CatalogState.PENDING, CatalogState.APPROVED])):
        reason = _("测评证书 %(id)s 已被撤销：%(r)s") % {"id": certificate.certificate_id, "r": certificate.revoke_reason}
        CATALOG.apply(entry, "suspend", actor, reason, system=True)
        entry.ended_at, entry.ended_by, entry.end_reason = timezone.now(), actor, reason
        entry.save(update_fields=["ended_at", "ended_by", "end_reason"])
        audit.record(actor, "catalog.suspend", entry, {"certificate": certificate.certificate_id})
        notify([*_owners(entry), *_reviewers(entry)],
               _("推荐目录条目“%(name)s”已暂停：%(r)s") % {"name": entry.filing.name, "r": reason}, _url(entry))
        suspended.append(entry)
    return suspended


def search_body(entry: CatalogEntry) -> str:
    filing = entry.filing
    org = entry.organization
    return " ".join(str(part) for part in (
        filing.name, filing.filing_number, org.name, getattr(org, "name_en", "") or "", filing.domain,
        filing.get_category_display(), filing.get_district_display(), filing.public_text, entry.justification,
        entry.certificate.certificate_id) if part)
