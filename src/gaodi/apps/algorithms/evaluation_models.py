"""Testing and evaluation of filed algorithm models (Art. 15) and their signed certificates (Art. 10).

An enterprise asks an accredited testing institution to evaluate one of its approved filings; the
institution accepts, the platform runs `gaodi.engines.evaluation` in a background task, and the
institution issues the report, which gets a certificate signed with the platform's Ed25519 key.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.models import Organization


class EvaluationState(models.TextChoices):
    REQUESTED = "requested", _("待受理")
    ACCEPTED = "accepted", _("已受理，排队中")
    RUNNING = "running", _("评估中")
    COMPLETED = "completed", _("评估完成，待出具报告")
    FAILED = "failed", _("评估失败")
    DECLINED = "declined", _("机构不予受理")
    ISSUED = "issued", _("已出具报告")
    REVOKED = "revoked", _("证书已撤销")


def _upload_to(instance: EvaluationRequest, filename: str) -> str:
    # Never the user's file name on disk: a random folder per request, fixed names inside it.
    return f"evaluations/{instance.organization_id}/{instance.token}/{filename}"


class FailureKind(models.TextChoices):
    """Why a run failed, in words the enterprise and the institution understand (the detail line is the engine's)."""

    PLAN = "plan", _("测试方案与数据不符")
    DATA = "data", _("测试数据有问题")
    MODEL = "model", _("模型无法加载，或模型的输入与测试数据不符")
    ENDPOINT_TIMEOUT = "endpoint_timeout", _("预测接口超时未响应")
    ENDPOINT_UNREACHABLE = "endpoint_unreachable", _("无法连接预测接口")
    ENDPOINT_GARBAGE = "endpoint_garbage", _("预测接口返回的内容无法识别")
    ENDPOINT_ERROR = "endpoint_error", _("预测接口返回了错误")
    ENDPOINT_UNSAFE = "endpoint_unsafe", _("预测接口地址指向内网、本机或链路本地地址，平台出于安全不予调用")
    UNAPPROVED_TYPES = "unapproved_types", _("模型文件会创建尚未经检测评估机构批准的类型；批准后可重新运行")
    ENDPOINT_CREDENTIAL = "endpoint_credential", _("预测接口凭据无法解密，请申请企业重新填写凭据")
    INTERNAL = "internal", _("平台内部错误")


class EvaluationRequestQuerySet(models.QuerySet):
    def latest_public(self):
        """The latest issued, non-revoked evaluation (for a filing's public page)."""
        return (self.filter(state=EvaluationState.ISSUED, certificate__revoked_at__isnull=True)
                .select_related("certificate", "institution").order_by("-certificate__issued_at", "-pk").first())


class EvaluationRequest(models.Model):
    """One request to test and evaluate a filed model (测评申请)."""

    filing = models.ForeignKey("algorithms.AlgorithmFiling", on_delete=models.PROTECT,
                               related_name="evaluation_requests", verbose_name=_("算法备案"))
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="evaluation_requests",
                                     verbose_name=_("申请企业"))
    institution = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="evaluations_to_run",
                                    verbose_name=_("检测评估机构"))
    state = models.CharField(_("状态"), max_length=16, choices=EvaluationState.choices,
                             default=EvaluationState.REQUESTED, db_index=True)
    deadline = models.DateField(_("办理期限"), null=True, blank=True)
    token = models.CharField(max_length=32, editable=False)

    # The model is either an uploaded file (model_file) or an HTTP prediction endpoint (endpoint_url).
    model_file = models.FileField(_("模型文件"), upload_to=_upload_to, max_length=200, blank=True)
    model_name = models.CharField(_("模型原文件名"), max_length=200, blank=True)
    model_format = models.CharField(max_length=8)  # onnx, skops, or http for an endpoint
    model_sha256 = models.CharField(max_length=64, blank=True)
    endpoint_url = models.URLField(_("预测接口地址"), max_length=500, blank=True)
    # The endpoint's credential (evaluation_secrets): the header it goes in, and the value encrypted with
    # Fernet under the platform's credential key — never the plaintext. Cleared once the request can no
    # longer run (completed, issued, declined); a failed request keeps it for its retry.
    endpoint_header = models.CharField(_("凭据请求头"), max_length=64, blank=True)
    endpoint_secret_ciphertext = models.TextField(blank=True, editable=False)
    endpoint_secret_hint = models.CharField(max_length=4, blank=True, editable=False)  # last 4 chars of a long one
    endpoint_secret_set_at = models.DateTimeField(null=True, blank=True)
    endpoint_secret_erased_at = models.DateTimeField(null=True, blank=True)
    # skops files: the types the file would create beyond skops' safe set (skops.io.get_untrusted_types,
    # computed at submission without loading the file; refreshed by a run that finds others). The run
    # loads the file only when the institution approved every one (EvaluationTypeApproval).
    untrusted_types = models.JSONField(_("须批准的类型"), default=list, blank=True)
    data_file = models.FileField(_("测试数据"), upload_to=_upload_to, max_length=200)
    data_name = models.CharField(_("数据原文件名"), max_length=200)
    data_sha256 = models.CharField(max_length=64)
    plan_text = models.TextField(_("测试方案（TOML）"), max_length=50000)
    plan_sha256 = models.CharField(max_length=64)

    attempt = models.PositiveIntegerField(default=0)
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0)
    stage = models.CharField(_("当前步骤"), max_length=40, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(_("失败原因"), blank=True)
    failure_kind = models.CharField(_("失败类别"), max_length=24, choices=FailureKind.choices, blank=True)
    passed = models.BooleanField(_("是否通过"), null=True)
    summary_zh = models.TextField(blank=True)
    summary_en = models.TextField(blank=True)
    result_file = models.FileField(upload_to=_upload_to, blank=True, max_length=200)
    result_sha256 = models.CharField(max_length=64, blank=True)
    report_file = models.FileField(upload_to=_upload_to, blank=True, max_length=200)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EvaluationRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("测评申请")
        verbose_name_plural = _("测评申请")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["institution", "state"]), models.Index(fields=["organization", "state"])]

    def __str__(self) -> str:
        return f"{self.filing.name} · {self.get_state_display()}"

    @property
    def uses_endpoint(self) -> bool:
        return bool(self.endpoint_url)

    @property
    def has_endpoint_credential(self) -> bool:
        return bool(self.endpoint_secret_ciphertext)


class EvaluationTypeApproval(models.Model):
    """The testing institution's approval of types a skops model file would create (类型批准记录).
    Insert-only: each approval is one row naming exactly the types, who approved them, when and why."""

    request = models.ForeignKey(EvaluationRequest, on_delete=models.PROTECT, related_name="type_approvals")
    types = models.JSONField(_("批准的类型"))
    note = models.TextField(_("审查说明"), max_length=2000)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(_("批准时间"))

    class Meta:
        verbose_name = _("类型批准记录")
        verbose_name_plural = _("类型批准记录")
        ordering = ["approved_at", "id"]

    def __str__(self) -> str:
        return ", ".join(self.types)

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("type approvals are insert-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("type approvals are insert-only")


class EvaluationCertificate(models.Model):
    """A signed, verifiable certificate of an issued evaluation report (测评证书). The payload is frozen."""

    certificate_id = models.CharField(_("证书编号"), max_length=40, unique=True)
    request = models.OneToOneField(EvaluationRequest, on_delete=models.PROTECT, related_name="certificate")
    payload = models.TextField()  # the canonical JSON that was signed, byte for byte (UTF-8)
    signature = models.CharField(max_length=200)  # base64 Ed25519 signature of payload
    key_fingerprint = models.CharField(max_length=64)  # SHA-256 of the public key (DER)
    issued_at = models.DateTimeField(_("出具时间"))
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    revoke_reason = models.TextField(_("撤销原因"), blank=True)

    class Meta:
        verbose_name = _("测评证书")
        verbose_name_plural = _("测评证书")
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return self.certificate_id


from . import evaluation_features, evaluation_policies  # noqa: E402, F401  register the policy and the features
