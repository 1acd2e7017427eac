"""Algorithm filing (算法备案) and its periodic public disclosure (Art. 15 para. 2-3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gaodi.apps.core.choices import District
from gaodi.apps.core.models import Organization


class Category(models.TextChoices):
    GENERATION = "generation", _("生成合成类")
    RECOMMENDATION = "recommendation", _("个性化推送类")
    RANKING = "ranking", _("排序精选类")
    RETRIEVAL = "retrieval", _("检索过滤类")
    SCHEDULING = "scheduling", _("调度决策类")


class FilingRole(models.TextChoices):
    PROVIDER = "provider", _("服务提供者")
    SUPPORTER = "supporter", _("技术支持者")


class Kind(models.TextChoices):
    NEW = "new", _("首次备案")
    CHANGE = "change", _("变更备案")


class State(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("待审核")
    RETURNED = "returned", pgettext_lazy("filing state", "退回修改")
    APPROVED = "approved", _("已备案")
    REJECTED = "rejected", pgettext_lazy("filing state", "不予备案")
    DEREGISTRATION_REQUESTED = "deregistration_requested", _("注销审核中")
    DEREGISTERED = "deregistered", _("已注销")
    SUPERSEDED = "superseded", _("已变更")
    WITHDRAWN = "withdrawn", _("已撤回")


PUBLIC_STATES = (State.APPROVED, State.DEREGISTRATION_REQUESTED, State.DEREGISTERED, State.SUPERSEDED)


def report_upload_to(instance: AlgorithmFiling, filename: str) -> str:
    # Never keep the user's file name on disk: it could carry path tricks or a misleading extension.
    return f"filings/{instance.organization_id}/self-assessment/{instance.report_token}{instance.report_extension}"


class AlgorithmFiling(models.Model):
    """One version of an algorithm's filing. A change is a new version sharing the filing number."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="filings",
                                     verbose_name=_("备案主体"))
    department = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="reviewed_filings",
                                   verbose_name=_("受理部门"))
    kind = models.CharField(_("备案类型"), max_length=10, choices=Kind.choices, default=Kind.NEW)
    previous = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="changes", verbose_name=_("变更前版本"))
    version = models.PositiveSmallIntegerField(_("版本"), default=1)
    state = models.CharField(_("状态"), max_length=32, choices=State.choices, default=State.DRAFT, db_index=True)
    deadline = models.DateField(_("办理期限"), null=True, blank=True)

    name = models.CharField(_("算法名称"), max_length=100)
    category = models.CharField(_("算法类别"), max_length=20, choices=Category.choices)
    role = models.CharField(_("备案主体角色"), max_length=12, choices=FilingRole.choices)
    scenarios = models.TextField(_("应用场景"), max_length=2000)
    domain = models.CharField(_("应用领域"), max_length=100)
    principle = models.TextField(_("基本原理"), max_length=5000)
    mechanism = models.TextField(_("运行机制"), max_length=5000)
    purpose = models.TextField(_("目的意图"), max_length=2000)
    products = models.TextField(_("使用该算法的产品及接口"), max_length=2000)
    public_text = models.TextField(
        _("拟公示内容"), max_length=5000,
        help_text=_("面向公众的通俗说明：算法做什么、如何影响用户、用户有哪些选择（条例第十五条第二款）。"),
    )
    report = models.FileField(_("安全自评估报告"), upload_to=report_upload_to, blank=True)
    report_name = models.CharField(_("报告原文件名"), max_length=200, blank=True)
    report_token = models.CharField(max_length=32, blank=True, editable=False)
    report_extension = models.CharField(max_length=8, blank=True, editable=False)
    report_sha256 = models.CharField(max_length=64, blank=True, editable=False)

    filing_number = models.CharField(_("备案编号"), max_length=40, blank=True, db_index=True)
    district = models.CharField(_("所在区"), max_length=6, choices=District.choices, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(_("备案时间"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("算法备案")
        verbose_name_plural = _("算法备案")
        ordering = ["-approved_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["filing_number", "version"], condition=~models.Q(filing_number=""),
                name="uniq_filing_number_version",
            )
        ]
        indexes = [
            models.Index(fields=["state", "category"]),
            models.Index(fields=["organization", "state"]),
            # Lets the public list's filtered count be an index-only scan (docs/benchmarks.md).
            models.Index(fields=["category", "district", "state"], name="filing_cat_district_state"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.filing_number or self.get_state_display()})"

    @property
    def is_public(self) -> bool:
        return self.state in PUBLIC_STATES

    @property
    def is_editable(self) -> bool:
        return self.state in (State.DRAFT, State.RETURNED)


class FilingSerial(models.Model):
    """Per region and year counter behind filing numbers; its row is locked while a number is issued."""

    region = models.CharField(max_length=6)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region", "year"], name="uniq_filing_serial")]

    def __str__(self) -> str:
        return f"{self.region}/{self.year}: {self.last}"


class DisclosureBatch(models.Model):
    """A published, numbered, dated list of the filings approved in a period (公示批次). Frozen once made."""

    number = models.CharField(_("批次编号"), max_length=40, unique=True)
    title = models.CharField(_("标题"), max_length=200)
    department = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="disclosure_batches",
                                   verbose_name=_("发布部门"))
    period_start = models.DateField(_("起始日期"))
    period_end = models.DateField(_("截止日期"))
    published_at = models.DateTimeField(_("发布时间"))
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    corrects = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="corrections", verbose_name=_("更正的批次"))
    note = models.TextField(_("说明"), blank=True, max_length=2000)
    item_count = models.PositiveIntegerField(default=0)
    content_sha256 = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("公示批次")
        verbose_name_plural = _("公示批次")
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            from django.core.exceptions import ValidationError

            raise ValidationError(_("已发布的公示批次不能修改；如需更正，请发布新的批次。"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        from django.core.exceptions import ValidationError

        raise ValidationError(_("已发布的公示批次不能删除；如需更正，请发布新的批次。"))


class DisclosureItem(models.Model):
    """A frozen copy of what was published for one filing: later changes to the filing never alter it."""

    batch = models.ForeignKey(DisclosureBatch, on_delete=models.PROTECT, related_name="items")
    filing = models.ForeignKey(AlgorithmFiling, on_delete=models.PROTECT, related_name="disclosures")
    position = models.PositiveIntegerField()
    filing_number = models.CharField(max_length=40)
    name = models.CharField(max_length=100)
    organization_name = models.CharField(max_length=200)
    category = models.CharField(max_length=20)
    role = models.CharField(max_length=12)
    domain = models.CharField(max_length=100)
    district = models.CharField(max_length=6, blank=True)
    approved_on = models.DateField()
    public_text = models.TextField()

    class Meta:
        ordering = ["batch", "position"]
        constraints = [models.UniqueConstraint(fields=["batch", "filing"], name="uniq_batch_filing")]

    def __str__(self) -> str:
        return f"{self.position}. {self.filing_number} {self.name}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            from django.core.exceptions import ValidationError

            raise ValidationError(_("已发布的公示条目不能修改。"))
        super().save(*args, **kwargs)
from .catalog_models import CatalogEntry, CatalogState  # noqa: E402, F401
from .evaluation_models import EvaluationCertificate, EvaluationRequest, EvaluationState  # noqa: E402, F401
