"""Business operations on data resources: one function each, one transaction each, each writing its audit
entry; background work is enqueued only after commit. Views, the API and the demo loader call these."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gaodi.apps.core import audit, search
from gaodi.apps.core.choices import Role
from gaodi.apps.core.models import Organization
from gaodi.apps.core.notifications import members_of, notify
from gaodi.apps.core.permissions import require
from gaodi.engines.dataquality import DataQualityError, profile_file, scan_file, suggest_grading

from .forms import (
    ApplicationForm,
    DatasetForm,
    GradingForm,
    GrantRevokeForm,
    OpenListEntryForm,
    ResourceForm,
    VersionForm,
)
from .models import (
    AccessApplication,
    AccessLog,
    ApplicationState,
    Dataset,
    GradingDecision,
    Grant,
    GrantStatus,
    OpenListVersion,
    OpenType,
    QualityState,
    Resource,
    ResourceKind,
    ResourceVersion,
    Theme,
)
from .policies import enterprise_ids, publisher_ids
from .workflows import ACCESS_APPLICATION

SEARCH_DOC = "dataset"
DOWNLOADS_PER_MINUTE = 30


def _validated(form) -> dict:
    if not form.is_valid():
        raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
    return form.cleaned_data


def index_dataset(dataset: Dataset) -> None:
    labels = []
    for lang in ("zh-hans", "en"):
        with translation.override(lang):
            labels += [str(Theme(dataset.theme).label), str(OpenType(dataset.open_type).label)]
    body = " ".join([dataset.title, dataset.title_en, dataset.description, dataset.keywords,
                     dataset.publisher.name, dataset.publisher.name_en, *labels])
    search.index(SEARCH_DOC, dataset.pk, body)


# ---- catalog ------------------------------------------------------------------------------------

def create_dataset(user, publisher: Organization, form: DatasetForm) -> Dataset:
    if publisher.pk not in publisher_ids(user):
        raise PermissionDenied(_("您不是该机构的发布员，不能以其名义发布数据集。"))
    data = _validated(form)
    with transaction.atomic():
        dataset = Dataset(publisher=publisher, created_by=user, **data)
        dataset.save()
        index_dataset(dataset)
        audit.record(user, "data.dataset.create", dataset, {"title": dataset.title})
    return dataset


def update_dataset(user, dataset: Dataset, form: DatasetForm) -> Dataset:
    require(user, "change", dataset)
    data = _validated(form)
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        changed = [k for k, v in data.items() if getattr(dataset, k) != v]
        for key, value in data.items():
            setattr(dataset, key, value)
        dataset.save()
        index_dataset(dataset)
        from .products_actions import index_product

        for product in dataset.products.select_related("publisher"):
            index_product(product)  # products are found by the titles of their datasets too
        audit.record(user, "data.dataset.update", dataset, {"fields": changed})
    return dataset


def _new_version(user, resource: Resource, upload, checked, note: str) -> ResourceVersion:
    number = (resource.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ResourceVersion(resource=resource, number=number, file_format=checked.file_format,
                              original_name=(upload.name or "")[-200:], size=checked.size, sha256=checked.sha256,
                              note=note, created_by=user)
    version.file.save(f"r{resource.pk}v{number}{checked.extension}", upload, save=False)
    version.save()
    from .tasks import run_quality_report

    transaction.on_commit(lambda: run_quality_report.enqueue(version.pk))
    return version


def add_resource(user, dataset: Dataset, form: ResourceForm) -> Resource:
    require(user, "change", dataset)
    data = _validated(form)
    with transaction.atomic():
        resource = Resource.objects.create(dataset=dataset, name=data["name"], kind=data["kind"],
                                           url=data["url"] if data["kind"] == ResourceKind.API else "")
        if resource.kind == ResourceKind.FILE:
            _new_version(user, resource, data["file"], form.checked, data.get("note") or "")
        Dataset.objects.filter(pk=dataset.pk).update(updated_at=timezone.now())
        audit.record(user, "data.resource.add", resource, {"dataset": dataset.pk, "kind": resource.kind})
    return resource


def add_version(user, resource: Resource, form: VersionForm) -> ResourceVersion:
    require(user, "change", resource.dataset)
    if resource.kind != ResourceKind.FILE:
        raise ValidationError({"file": _("接口资源没有文件版本。")})
    data = _validated(form)
    with transaction.atomic():
        version = _new_version(user, resource, data["file"], form.checked, data.get("note") or "")
        audit.record(user, "data.version.add", version, {"number": version.number, "sha256": version.sha256})
    return version


def _without_server_path(report: dict, path: str, name: str) -> dict:
    """Reports are shown to the public: the file is named as uploaded, never by its storage path."""
    if report.get("source") == path:
        report["source"] = name
    if isinstance(report.get("read"), dict) and report["read"].get("path") == path:
        report["read"]["path"] = name
    return report


def run_quality_report(version_id: int) -> ResourceVersion:
    """Run the engine's profile and scan and store their JSON; a bad file stores the one-line error."""
    with transaction.atomic():
        version = ResourceVersion.objects.select_for_update().select_related("resource__dataset").get(pk=version_id)
        version.quality_state = QualityState.RUNNING
        version.save(update_fields=["quality_state"])
    path = version.file.path
    try:
        profile = profile_file(path)
        scan = scan_file(path)
        suggestion = suggest_grading(scan, version.resource.dataset.theme)
    except DataQualityError as exc:
        # The message names the file by the name the publisher uploaded, never by the server's path.
        exc.path = version.original_name or None
        text = str(exc).replace(path, version.original_name or "")
        version.quality_state = QualityState.FAILED
        version.quality_error = text.splitlines()[0][:500] if text else type(exc).__name__
        version.quality_checked_at = timezone.now()
        version.save(update_fields=["quality_state", "quality_error", "quality_checked_at"])
        return version
    version.quality_profile = _without_server_path(profile.to_dict(), path, version.original_name)
    version.quality_scan = _without_server_path(scan.to_dict(), path, version.original_name)
    version.grading_suggestion = suggestion.to_dict()
    version.quality_score = profile.score
    version.quality_state = QualityState.DONE
    version.quality_error = ""
    version.quality_checked_at = timezone.now()
    version.save()
    return version


def retry_quality_report(user, version: ResourceVersion) -> ResourceVersion:
    require(user, "change", version.resource.dataset)
    if version.quality_state not in (QualityState.FAILED, QualityState.DONE):
        raise ValidationError({"quality": _("质量检测正在进行中，请稍后再试。")})
    from .tasks import run_quality_report as task

    with transaction.atomic():
        version.quality_state = QualityState.PENDING
        version.quality_error = ""
        version.save(update_fields=["quality_state", "quality_error"])
        audit.record(user, "data.quality.retry", version)
        transaction.on_commit(lambda: task.enqueue(version.pk))
    return version


def latest_suggestion(dataset: Dataset) -> dict | None:
    version = (ResourceVersion.objects.filter(resource__dataset=dataset, quality_state=QualityState.DONE)
               .order_by("-quality_checked_at", "-id").first())
    return version.grading_suggestion if version else None


def decide_grading(user, dataset: Dataset, form: GradingForm) -> GradingDecision:
    """Record a person's grading decision beside the engine's latest suggestion, and apply it."""
    require(user, "grade", dataset)
    data = _validated(form)
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if data["open_type"] == OpenType.CONDITIONAL and not dataset.conditions.strip():
            raise ValidationError({"open_type": _("有条件开放前，请先在数据集信息中写明开放条件。")})
        suggestion = latest_suggestion(dataset)
        follows = None
        if suggestion:
            follows = suggestion.get("level") == data["security_level"] and suggestion.get("open_type") == data["open_type"]
        decision = GradingDecision.objects.create(dataset=dataset, security_level=data["security_level"],
                                                  open_type=data["open_type"], suggestion=suggestion,
                                                  follows_suggestion=follows, note=data.get("note") or "",
                                                  decided_by=user)
        dataset.security_level, dataset.open_type = data["security_level"], data["open_type"]
        dataset.save(update_fields=["security_level", "open_type", "updated_at"])
        index_dataset(dataset)
        audit.record(user, "data.grading.decide", dataset,
                     {"level": decision.security_level, "open_type": decision.open_type, "follows": follows})
    return decision


# ---- open lists ---------------------------------------------------------------------------------

def current_open_list(department: Organization) -> OpenListVersion | None:
    return OpenListVersion.objects.filter(department=department).order_by("-number").first()


def _publish_list(user, department: Organization, items: list[dict], change: str) -> OpenListVersion:
    current = current_open_list(department)
    version = OpenListVersion.objects.create(department=department, number=(current.number + 1) if current else 1,
                                             items=items, change=change[:300], created_by=user)
    audit.record(user, "data.openlist.publish", version, {"number": version.number, "change": change})
    return version


def set_open_list_entry(user, department: Organization, form: OpenListEntryForm) -> OpenListVersion:
    """Add or change one entry (by name): a new version of the department's open list."""
    from .policies import list_department_ids

    if department.pk not in list_department_ids(user):
        raise PermissionDenied(_("只有本部门的发布员可以维护公共数据开放清单。"))
    data = _validated(form)
    entry = {"name": data["name"], "dataset_id": data["dataset"].pk if data["dataset"] else None,
             "scope": data["scope"], "open_type": data["open_type"], "conditions": data.get("conditions") or "",
             "update_frequency": data["update_frequency"]}
    with transaction.atomic():
        current = current_open_list(department)
        items = list(current.items) if current else []
        existing = [i for i, item in enumerate(items) if item["name"] == entry["name"]]
        if existing:
            if items[existing[0]] == entry:
                raise ValidationError({"name": _("内容没有变化，未生成新版本。")})
            items[existing[0]] = entry
            change = _("修改：%(name)s") % {"name": entry["name"]}
        else:
            items.append(entry)
            change = _("新增：%(name)s") % {"name": entry["name"]}
        return _publish_list(user, department, items, change)


def remove_open_list_entry(user, department: Organization, name: str) -> OpenListVersion:
    from .policies import list_department_ids

    if department.pk not in list_department_ids(user):
        raise PermissionDenied(_("只有本部门的发布员可以维护公共数据开放清单。"))
    with transaction.atomic():
        current = current_open_list(department)
        items = [i for i in (current.items if current else []) if i["name"] != name]
        if current is None or len(items) == len(current.items):
            raise ValidationError({"name": _("清单中没有名为“%(name)s”的数据项。") % {"name": name}})
        return _publish_list(user, department, items, _("移除：%(name)s") % {"name": name})


# ---- access applications and grants ---------------------------------------------------------------

def _deciders(application: AccessApplication):
    return members_of(application.dataset.publisher_id, Role.REVIEWER, Role.ADMIN)


def apply_for_access(user, dataset: Dataset, form: ApplicationForm, when=None) -> AccessApplication:
    """Create and submit an application (with a working-day deadline for the publisher)."""
    if dataset.open_type != OpenType.CONDITIONAL:
        raise ValidationError({"dataset": _("只有“有条件开放”的数据需要申请；该数据集为“%(t)s”。")
                               % {"t": dataset.get_open_type_display()}})
    require(user, "apply", dataset)
    data = _validated(form)
    org = data.get("organization")
    if org is not None and org.pk not in enterprise_ids(user):
        raise PermissionDenied(_("您不是该企业的成员，不能以其名义申请。"))
    with transaction.atomic():
        application = AccessApplication.objects.create(
            dataset=dataset, applicant=user, organization=org, purpose=data["purpose"], scenario=data["scenario"],
            security_measures=data["security_measures"], term_days=data["term_days"])
        ACCESS_APPLICATION.apply(application, "submit", user, today=timezone.localdate(when) if when else None)
        application.submitted_at = when or timezone.now()
        application.save(update_fields=["submitted_at"])
        audit.record(user, "data.application.submit", application, {"deadline": application.deadline})
        notify(_deciders(application), _("新的数据访问申请待审核：%(t)s") % {"t": dataset.title},
               reverse("data:application_detail", args=[application.pk]))
    return application


def decide_application(user, application: AccessApplication, name: str, comment: str = "",
                       when=None) -> AccessApplication:
    if name not in ("approve", "reject", "withdraw"):
        raise ValidationError({"transition": _("未知操作：%(name)s") % {"name": name}})
    with transaction.atomic():
        application = AccessApplication.objects.select_for_update().select_related("dataset").get(pk=application.pk)
        ACCESS_APPLICATION.apply(application, name, user, comment)
        now = when or timezone.now()
        if name in ("approve", "reject"):
            application.decided_at = now
            application.save(update_fields=["decided_at"])
        data = {"comment": comment}
        if name == "approve":
            grant = Grant.objects.create(application=application, dataset=application.dataset,
                                         grantee=application.applicant, organization=application.organization,
                                         starts_at=now, expires_at=now + timedelta(days=application.term_days))
            data["grant"] = grant.pk
            data["expires_at"] = grant.expires_at
        audit.record(user, f"data.application.{name}", application, data)
        if name != "withdraw":
            message = (_("您的数据访问申请已批准：%(t)s") if name == "approve"
                       else _("您的数据访问申请未获批准：%(t)s")) % {"t": application.dataset.title}
            notify([application.applicant], message, reverse("data:application_detail", args=[application.pk]))
    return application


def revoke_grant(user, grant: Grant, form: GrantRevokeForm, when=None) -> Grant:
    """The deciding department ends a grant before its term, with a reason. The grantee is notified; the
    grant and its access log stay for the record, and every later use is refused with the reason."""
    data = _validated(form)
    with transaction.atomic():
        grant = Grant.objects.select_for_update().select_related("dataset").get(pk=grant.pk)
        require(user, "revoke", grant)
        now = when or timezone.now()
        status = grant.status_at(now)
        if status == GrantStatus.REVOKED:
            raise ValidationError({"reason": _("该授权已于 %(t)s 撤销，无需再次撤销。")
                                   % {"t": timezone.localtime(grant.revoked_at).strftime("%Y-%m-%d %H:%M")}})
        if status == GrantStatus.EXPIRED:
            raise ValidationError({"reason": _("该授权已于 %(t)s 到期，已不能使用，无需撤销。")
                                   % {"t": timezone.localtime(grant.expires_at).strftime("%Y-%m-%d %H:%M")}})
        grant.revoked_at, grant.revoked_by, grant.revoke_reason = now, user, data["reason"]
        grant.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        audit.record(user, "data.grant.revoke", grant,
                     {"application": grant.application_id, "reason": grant.revoke_reason,
                      "expires_at": grant.expires_at})
        notify([grant.grantee], _("您对“%(t)s”的数据访问授权已被撤销：%(r)s") % {"t": grant.dataset.title,
                                                                       "r": grant.revoke_reason},
               reverse("data:application_detail", args=[grant.application_id]))
    return grant


def grant_for(user, dataset: Dataset) -> Grant | None:
    """The caller's grant for a dataset: an active one if any, else the latest (so that an expired or
    revoked grant is refused with its own reason rather than "apply first")."""
    if not getattr(user, "pk", None):
        return None
    from django.db.models import Q

    grants = list(Grant.objects.filter(dataset=dataset)
                  .filter(Q(grantee=user) | Q(organization_id__in=enterprise_ids(user)))
                  .order_by("-starts_at", "-id")[:50])
    return next((g for g in grants if g.is_active), grants[0] if grants else None)


# ---- downloads ----------------------------------------------------------------------------------

class Refused(Exception):
    """A download that must not happen; status is the HTTP status, message says why and what to do,
    retry_after (seconds) is set on a rate-limit refusal."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def client_ip(request) -> str | None:
    value = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _log(dataset, version, user, grant, ip, allowed: bool, reason: str = "") -> None:
    AccessLog.objects.create(dataset=dataset, version=version, user=user if getattr(user, "pk", None) else None,
                             grant=grant, ip=ip, allowed=allowed, reason=reason[:200])


def _rate_limited(ip: str | None, now=None) -> int | None:
    """None if the download may go ahead, else the seconds until the next minute window opens."""
    stamp = (now or timezone.now()).timestamp()
    key = f"gaodi:data:dl:{ip or 'unknown'}:{int(stamp // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=120)
        count = 1
    if count <= DOWNLOADS_PER_MINUTE:
        return None
    return max(1, 60 - int(stamp % 60))


def authorize_download(user, version: ResourceVersion, ip: str | None, grant: Grant | None = None,
                       now=None) -> ResourceVersion:
    """Decide one download and log it; raise Refused with the reason. Unconditional data: anyone, rate
    limited per IP; conditional data: only with an active grant of the caller; not-open data: never."""
    dataset = version.resource.dataset
    now = now or timezone.now()

    def refuse(status: int, message: str, retry_after: int | None = None):
        _log(dataset, version, user, grant, ip, False, message)
        raise Refused(status, message, retry_after)

    if dataset.open_type == OpenType.NOT_OPEN:
        refuse(403, _("该数据集为“不予开放”数据，不提供下载。"))
    if grant is None:
        if dataset.open_type == OpenType.CONDITIONAL:
            refuse(403, _("该数据集为“有条件开放”数据，须先申请并获得授权后才能下载（登录后在数据集页面点击“申请访问”）。"))
        wait = _rate_limited(ip, now)
        if wait is not None:
            refuse(429, _("下载过于频繁（每分钟最多 %(n)s 次），请 %(s)s 秒后再试。")
                   % {"n": DOWNLOADS_PER_MINUTE, "s": wait}, wait)
    else:
        if grant.dataset_id != dataset.pk:
            refuse(403, _("该授权不适用于此数据集。"))
        if grant.grantee_id != getattr(user, "pk", None) and not (
                grant.organization_id and grant.organization_id in enterprise_ids(user)):
            refuse(403, _("该授权不属于您，不能使用。"))
        if grant.revoked_at is not None:
            refuse(403, _("该授权已于 %(t)s 被发布机构撤销，不能再下载。撤销理由：%(r)s")
                   % {"t": timezone.localtime(grant.revoked_at).strftime("%Y-%m-%d %H:%M"),
                      "r": grant.revoke_reason or "—"})
        if now < grant.starts_at:
            refuse(403, _("该授权自 %(t)s 起生效，现在还不能使用。")
                   % {"t": timezone.localtime(grant.starts_at).strftime("%Y-%m-%d %H:%M")})
        if not grant.is_active_at(now):
            refuse(403, _("该授权已于 %(t)s 到期，不能再下载；如仍需使用，请重新申请。")
                   % {"t": timezone.localtime(grant.expires_at).strftime("%Y-%m-%d %H:%M")})
    _log(dataset, version, user, grant, ip, True)
    return version


# ---- fairness -----------------------------------------------------------------------------------

FAIRNESS_GROUPS = ("sme", "individual", "large", "other")


def applicant_group(application: AccessApplication) -> str:
    org = application.organization
    if org is None:
        return "individual"
    if org.is_sme:
        return "sme"
    return "large" if org.size_class == "large" else "other"


def fairness_report() -> list[dict]:
    """Outcomes and waiting times (working days from submission to decision) per applicant group."""
    from gaodi.engines import workdays

    groups = {g: {"group": g, "applications": 0, "approved": 0, "rejected": 0, "pending": 0, "withdrawn": 0,
                  "waits": []} for g in FAIRNESS_GROUPS}
    qs = (AccessApplication.objects.exclude(state=ApplicationState.DRAFT)
          .select_related("organization"))
    for app in qs:
        row = groups[applicant_group(app)]
        row["applications"] += 1
        if app.state == ApplicationState.APPROVED:
            row["approved"] += 1
        elif app.state == ApplicationState.REJECTED:
            row["rejected"] += 1
        elif app.state == ApplicationState.SUBMITTED:
            row["pending"] += 1
        elif app.state == ApplicationState.WITHDRAWN:
            row["withdrawn"] += 1
        if app.decided_at and app.submitted_at:
            row["waits"].append(workdays.working_days_between(timezone.localdate(app.submitted_at),
                                                              timezone.localdate(app.decided_at)))
    result = []
    for row in groups.values():
        decided = row["approved"] + row["rejected"]
        waits = row.pop("waits")
        row["decided"] = decided
        # Undefined rates are null, never 0 (no decided application means nothing to compare).
        row["approval_rate"] = round(row["approved"] / decided, 4) if decided else None
        row["avg_wait_days"] = round(sum(waits) / len(waits), 2) if waits else None
        row["max_wait_days"] = max(waits) if waits else None
        result.append(row)
    return result
