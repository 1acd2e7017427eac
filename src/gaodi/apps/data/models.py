"""Data resources (Art. 16-17): the dataset catalog (the AI data resource library) with resources, versions
and quality reports; grading decisions beside the engine's suggestion; departments' public data open lists
(insert-only versions); access applications for conditional data, grants and the access log."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.choices import DataSecurityLevel
from gaodi.apps.core.models import InsertOnlyModel, Organization


class OpenType(models.TextChoices):
    UNCONDITIONAL = "unconditional", _("无条件开放")
    CONDITIONAL = "conditional", _("有条件开放")
    NOT_OPEN = "not_open", _("不予开放")


SecurityLevel = DataSecurityLevel  # the same grades compute placement respects


class Theme(models.TextChoices):
    """Fields the grading engine knows (Art. 17: classified and graded opening by field)."""

    GENERAL = "general", _("通用")
    HEALTH = "health", _("生命健康")
    AUTONOMOUS_DRIVING = "autonomous_driving", _("自动驾驶")
    TRANSPORT = "transport", _("交通出行")
    FINANCE = "finance", _("金融")
    EDUCATION = "education", _("教育")


class Frequency(models.TextChoices):
    ONCE = "once", _("一次性")
    REALTIME = "realtime", _("实时")
    DAILY = "daily", _("每日")
    WEEKLY = "weekly", _("每周")
    MONTHLY = "monthly", _("每月")
    QUARTERLY = "quarterly", _("每季度")
    YEARLY = "yearly", _("每年")


class ResourceKind(models.TextChoices):
    FILE = "file", _("文件")
    API = "api", _("接口")


class QualityState(models.TextChoices):
    PENDING = "pending", _("排队中")
    RUNNING = "running", _("检测中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
    NONE = "none", _("不适用")


class ApplicationState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("待审核")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("不予批准")
    WITHDRAWN = "withdrawn", _("已撤回")


class GrantStatus(models.TextChoices):
    """A grant's status is computed from its times when it is used; it is never stored."""

    ACTIVE = "active", _("有效")
    PENDING = "pending", _("尚未生效")
    EXPIRED = "expired", _("已到期")
    REVOKED = "revoked", _("已撤销")


class Dataset(models.Model):
    """A catalog entry with DCAT-style metadata. Metadata is public whatever the open type."""

    publisher = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="datasets",
                                  verbose_name=_("发布机构"))
    title = models.CharField(_("数据集名称"), max_length=200)
    title_en = models.CharField(_("英文名称"), max_length=200, blank=True)
    description = models.TextField(_("数据集描述"))
    theme = models.CharField(_("领域"), max_length=32, choices=Theme.choices, default=Theme.GENERAL)
    keywords = models.CharField(_("关键词"), max_length=200, blank=True, help_text=_("以逗号分隔。"))
    licence = models.CharField(_("许可协议"), max_length=100, default="CC BY 4.0")
    update_frequency = models.CharField(_("更新频率"), max_length=16, choices=Frequency.choices,
                                        default=Frequency.MONTHLY)
    temporal_start = models.DateField(_("时间范围起"), null=True, blank=True)
    temporal_end = models.DateField(_("时间范围止"), null=True, blank=True)
    spatial = models.CharField(_("空间范围"), max_length=100, default="上海市")
    open_type = models.CharField(_("开放类型"), max_length=16, choices=OpenType.choices,
                                 default=OpenType.NOT_OPEN)
    security_level = models.CharField(_("安全级别"), max_length=16, choices=SecurityLevel.choices,
                                      default=SecurityLevel.GENERAL)
    conditions = models.TextField(_("开放条件"), blank=True,
                                  help_text=_("有条件开放时，申请者须满足的条件。"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("数据集")
        verbose_name_plural = _("数据集")
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def latest_score(self):
        version = (ResourceVersion.objects.filter(resource__dataset=self, quality_state=QualityState.DONE)
                   .order_by("-quality_checked_at").first())
        return version.quality_score if version else None


class Resource(models.Model):
    """A distribution of a dataset: an uploaded file (with versions) or an API endpoint."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="resources",
                                verbose_name=_("数据集"))
    name = models.CharField(_("资源名称"), max_length=200)
    kind = models.CharField(_("资源类型"), max_length=8, choices=ResourceKind.choices)
    url = models.URLField(_("接口地址"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("数据资源")
        verbose_name_plural = _("数据资源")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def latest(self):
        return self.versions.order_by("-number").first()


class ResourceVersion(models.Model):
    """One uploaded file of a resource, with its quality report (profile and sensitive-data scan)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="versions",
                                 verbose_name=_("数据资源"))
    number = models.PositiveIntegerField(_("版本"))
    file = models.FileField(upload_to="data/%Y/%m/", max_length=200)
    file_format = models.CharField(_("格式"), max_length=8)
    original_name = models.CharField(_("原文件名"), max_length=200)
    size = models.PositiveBigIntegerField(_("大小（字节）"))
    sha256 = models.CharField(max_length=64)
    note = models.CharField(_("版本说明"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    quality_state = models.CharField(_("质量检测"), max_length=8, choices=QualityState.choices,
                                     default=QualityState.PENDING)
    quality_score = models.FloatField(_("质量得分"), null=True, blank=True)
    quality_profile = models.JSONField(_("质量画像"), null=True, blank=True)
    quality_scan = models.JSONField(_("敏感数据扫描"), null=True, blank=True)
    grading_suggestion = models.JSONField(_("分级建议"), null=True, blank=True)
    quality_error = models.CharField(_("检测错误"), max_length=500, blank=True)
    quality_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("资源版本")
        verbose_name_plural = _("资源版本")
        ordering = ["resource", "-number"]
        constraints = [models.UniqueConstraint(fields=["resource", "number"], name="data_version_unique")]

    def __str__(self) -> str:
        return f"{self.resource} v{self.number}"


class GradingDecision(InsertOnlyModel):
    """A person's grading decision, with the engine's suggestion recorded beside it."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="gradings",
                                verbose_name=_("数据集"))
    security_level = models.CharField(_("安全级别"), max_length=16, choices=SecurityLevel.choices)
    open_type = models.CharField(_("开放类型"), max_length=16, choices=OpenType.choices)
    suggestion = models.JSONField(_("系统建议"), null=True, blank=True)
    follows_suggestion = models.BooleanField(_("与建议一致"), null=True)
    note = models.TextField(_("决定理由"), blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("分级决定")
        verbose_name_plural = _("分级决定")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.dataset} {self.security_level}/{self.open_type}"


class OpenListVersion(InsertOnlyModel):
    """One version of a department's public data open list. Every change writes a new version."""

    department = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="open_list_versions",
                                   verbose_name=_("部门"))
    number = models.PositiveIntegerField(_("版本"))
    items = models.JSONField(_("清单条目"), default=list)
    change = models.CharField(_("变更说明"), max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("公共数据开放清单版本")
        verbose_name_plural = _("公共数据开放清单版本")
        ordering = ["department", "-number"]
        constraints = [models.UniqueConstraint(fields=["department", "number"], name="data_openlist_unique")]

    def __str__(self) -> str:
        return f"{self.department} v{self.number}"


class AccessApplication(models.Model):
    """An application for conditional data (申请有条件开放数据), decided by the publisher."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="applications",
                                verbose_name=_("数据集"))
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("申请人"))
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="data_applications", verbose_name=_("申请企业"),
                                     help_text=_("留空表示以个人开发者身份申请。"))
    purpose = models.TextField(_("使用目的"), max_length=2000)
    scenario = models.TextField(_("应用场景"), max_length=2000)
    security_measures = models.TextField(_("安全保障措施"), max_length=2000)
    term_days = models.PositiveIntegerField(_("使用期限（天）"),
                                            validators=[MinValueValidator(1), MaxValueValidator(730)])
    state = models.CharField(_("状态"), max_length=16, choices=ApplicationState.choices,
                             default=ApplicationState.DRAFT)
    deadline = models.DateField(_("办理期限"), null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("数据访问申请")
        verbose_name_plural = _("数据访问申请")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.dataset}"


class Grant(models.Model):
    """Time-limited access to a conditional dataset; it expires by itself (compared with the time)."""

    application = models.OneToOneField(AccessApplication, on_delete=models.PROTECT, related_name="grant")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="grants", verbose_name=_("数据集"))
    grantee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("被授权人"))
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("被授权企业"))
    starts_at = models.DateTimeField(_("生效时间"))
    expires_at = models.DateTimeField(_("到期时间"))
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("撤销人"))
    revoke_reason = models.TextField(_("撤销理由"), max_length=2000, blank=True)

    class Meta:
        verbose_name = _("数据访问授权")
        verbose_name_plural = _("数据访问授权")
        ordering = ["-starts_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.dataset} → {self.grantee}"

    def is_active_at(self, when=None) -> bool:
        when = when or timezone.now()
        return self.revoked_at is None and self.starts_at <= when < self.expires_at

    @property
    def is_active(self) -> bool:
        return self.is_active_at()

    def status_at(self, when=None) -> str:
        """'revoked', 'expired', 'pending' (not yet started) or 'active', decided at the time of use."""
        when = when or timezone.now()
        if self.revoked_at is not None:
            return GrantStatus.REVOKED
        if when >= self.expires_at:
            return GrantStatus.EXPIRED
        if when < self.starts_at:
            return GrantStatus.PENDING
        return GrantStatus.ACTIVE

    @property
    def status(self) -> str:
        return self.status_at()

    def get_status_display(self) -> str:
        return str(GrantStatus(self.status).label)


class AccessLog(InsertOnlyModel):
    """Every download attempt of a resource, allowed or refused."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="access_logs")
    version = models.ForeignKey(ResourceVersion, on_delete=models.SET_NULL, null=True, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    grant = models.ForeignKey(Grant, on_delete=models.SET_NULL, null=True, related_name="access_logs")
    ip = models.GenericIPAddressField(null=True)
    allowed = models.BooleanField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("数据访问日志")
        verbose_name_plural = _("数据访问日志")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.dataset_id} {self.allowed} {self.created_at:%Y-%m-%d %H:%M}"


from .labeling_models import LabelingProject  # noqa: E402, F401  labeling tools (标注项目)
from .products_models import (  # noqa: E402, F401  data products (数据产品)
    PRICE_UNITS,
    DataProduct,
    ListingStatus,
    PriceModel,
    PriceUnit,
    ProductState,
)
