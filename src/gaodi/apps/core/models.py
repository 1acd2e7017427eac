"""Core models: organizations, users and memberships, the regulation, workflow history, notifications,
the hash-chained audit log and personal access tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gaodi.engines import sme

from .choices import DepartmentDuty, District, Industry, OrgKind, Role, SizeClass


class InsertOnlyModel(models.Model):
    """A row that is written once: history and audit entries are evidence and never change."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError(_("%(model)s 记录只能新增，不能修改。") % {"model": self._meta.verbose_name})
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("%(model)s 记录不能删除。") % {"model": self._meta.verbose_name})


uscc_validator = RegexValidator(
    r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
    _("统一社会信用代码应为18位，由数字和大写字母组成（不含I、O、Z、S、V）。"),
)


class Organization(models.Model):
    name = models.CharField(_("名称"), max_length=200, unique=True)
    name_en = models.CharField(_("英文名称"), max_length=200, blank=True)
    kind = models.CharField(_("类型"), max_length=32, choices=OrgKind.choices)
    code = models.CharField(
        _("平台编码"), max_length=12, unique=True, help_text=_("平台内机构编码，用于备案编号，如 E0042。")
    )
    credit_code = models.CharField(
        _("统一社会信用代码"), max_length=18, blank=True, validators=[uscc_validator]
    )
    district = models.CharField(_("所在区"), max_length=6, choices=District.choices, blank=True)
    duty = models.CharField(
        _("部门职责"), max_length=32, choices=DepartmentDuty.choices, blank=True,
        help_text=_("仅市政府部门填写（条例第六条）。"),
    )
    # Facts that decide SME status (Art. 12: SMEs get affordable compute; Art. 17: fair data use).
    industry = models.CharField(_("所属行业"), max_length=32, choices=Industry.choices, blank=True)
    employees = models.PositiveIntegerField(_("从业人员（人）"), null=True, blank=True)
    annual_revenue = models.DecimalField(
        _("营业收入（万元）"), max_digits=14, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(0)],
    )
    total_assets = models.DecimalField(
        _("资产总额（万元）"), max_digits=14, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(0)],
    )
    founded_on = models.DateField(_("成立日期"), null=True, blank=True)
    size_class = models.CharField(
        _("企业规模"), max_length=8, choices=SizeClass.choices, blank=True, editable=False,
        help_text=_("按《中小企业划型标准规定》由行业、从业人员和营业收入计算，不可手填。"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("机构")
        verbose_name_plural = _("机构")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.size_class = self.compute_size_class()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.kind == OrgKind.DEPARTMENT and not self.duty:
            raise ValidationError({"duty": _("市政府部门须选择部门职责。")})
        if self.kind == OrgKind.ENTERPRISE:
            missing = [f for f in ("industry", "employees", "annual_revenue") if getattr(self, f) in (None, "")]
            if missing:
                raise ValidationError({f: _("企业须填写此项，用于计算企业规模。") for f in missing})

    def compute_size_class(self) -> str:
        if self.kind != OrgKind.ENTERPRISE or not self.industry or self.employees is None:
            return ""
        return sme.classify(
            self.industry, self.employees, float(self.annual_revenue or 0), float(self.total_assets or 0)
        ).value

    @property
    def is_sme(self) -> bool:
        return self.size_class in {SizeClass.MEDIUM, SizeClass.SMALL, SizeClass.MICRO}


class User(AbstractUser):
    display_name = models.CharField(_("显示名"), max_length=100, blank=True)
    elder_mode = models.BooleanField(_("长者模式"), default=False)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username

    def has_org_role(self, role: str, org: Organization | None = None, kinds: tuple[str, ...] = ()) -> bool:
        qs = self.memberships.filter(role=role)
        if org is not None:
            qs = qs.filter(organization=org)
        if kinds:
            qs = qs.filter(organization__kind__in=kinds)
        return qs.exists()

    def organization_ids(self, *roles: str) -> set[int]:
        qs = self.memberships.all()
        if roles:
            qs = qs.filter(role__in=roles)
        return set(qs.values_list("organization_id", flat=True))


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices)

    class Meta:
        verbose_name = _("机构成员")
        verbose_name_plural = _("机构成员")
        constraints = [models.UniqueConstraint(fields=["user", "organization", "role"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.get_role_display()})"


class Chapter(models.Model):
    number = models.PositiveSmallIntegerField(_("章"), unique=True)
    title = models.CharField(_("标题"), max_length=100)

    class Meta:
        verbose_name = _("章")
        verbose_name_plural = _("章")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"第{self.number}章 {self.title}"


class Article(models.Model):
    number = models.PositiveSmallIntegerField(_("条"), unique=True)
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="articles")
    title = models.CharField(_("条标题"), max_length=100)
    text = models.TextField(_("条文"))

    class Meta:
        verbose_name = _("条文")
        verbose_name_plural = _("条文")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"第{self.number}条（{self.title}）"

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n") if p.strip()]


class WorkflowHistory(InsertOnlyModel):
    """One row per workflow transition of any reviewed object."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    transition = models.CharField(_("操作"), max_length=40)
    from_state = models.CharField(_("原状态"), max_length=32)
    to_state = models.CharField(_("新状态"), max_length=32)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+")
    comment = models.TextField(_("意见"), blank=True)
    deadline = models.DateField(_("办理期限"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("流转记录")
        verbose_name_plural = _("流转记录")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id} {self.from_state}→{self.to_state}"


class Notification(models.Model):
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(_("内容"), max_length=300)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("站内通知")
        verbose_name_plural = _("站内通知")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.message


class AuditEntry(InsertOnlyModel):
    """Append-only, hash-chained log of every action (see gaodi.apps.core.audit)."""

    created_at = models.DateTimeField(default=timezone.now)
    actor_id = models.BigIntegerField(null=True)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.id} {self.action}"


class PersonalAccessToken(models.Model):
    """API token: only a SHA-256 hash is stored; the secret is shown once at creation."""

    PREFIX = "gdt_"
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(_("名称"), max_length=100)
    key_prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("过期时间"), null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("访问令牌")
        verbose_name_plural = _("访问令牌")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def generate(cls, user: User, name: str, expires_at=None) -> tuple[PersonalAccessToken, str]:
        key = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, key_prefix=key[:12], key_hash=cls.hash_key(key), expires_at=expires_at
        )
        return token, key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())
