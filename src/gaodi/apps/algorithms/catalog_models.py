"""The recommended catalog of AI algorithm models (推荐目录, Art. 15 para. 1).

An enterprise nominates one of its filed models that holds a passing, issued certificate; the
department that reviewed the filing approves or rejects. Whether a listed entry is suspended is
computed at read time from its certificate, so a revoked certificate can never leave a stale entry.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.models import Organization


class CatalogState(models.TextChoices):
    PENDING = "pending", _("待审核")
    APPROVED = "approved", _("已列入目录")
    REJECTED = "rejected", _("未予列入")


class CatalogEntryQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(state=CatalogState.PENDING)

    def approved(self):
        return self.filter(state=CatalogState.APPROVED)

    def listed(self):
        """Approved entries whose certificate still stands (shown as recommended, not suspended)."""
        return self.approved().filter(certificate__revoked_at__isnull=True)


class CatalogEntry(models.Model):
    """One nomination of a filed model for the recommended catalog (推荐目录条目)."""

    filing = models.ForeignKey("algorithms.AlgorithmFiling", on_delete=models.PROTECT,
                               related_name="catalog_entries", verbose_name=_("算法备案"))
    certificate = models.ForeignKey("algorithms.EvaluationCertificate", on_delete=models.PROTECT,
                                    related_name="catalog_entries", verbose_name=_("测评证书"))
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="catalog_entries",
                                     verbose_name=_("推荐企业"))
    department = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="catalog_entries_to_review",
                                   verbose_name=_("审核部门"))
    state = models.CharField(_("状态"), max_length=16, choices=CatalogState.choices,
                             default=CatalogState.PENDING, db_index=True)
    deadline = models.DateField(_("办理期限"), null=True, blank=True)
    justification = models.TextField(_("推荐理由"), max_length=2000)
    decision_comment = models.TextField(_("审核意见"), blank=True)
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CatalogEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("推荐目录条目")
        verbose_name_plural = _("推荐目录条目")
        ordering = ["-decided_at", "-created_at", "-id"]
        indexes = [models.Index(fields=["department", "state"]), models.Index(fields=["organization", "state"])]
        constraints = [
            # At most one nomination of a filing waits for review at a time (the action checks first,
            # with a clear message; this holds under concurrent requests).
            models.UniqueConstraint(fields=["filing"], condition=models.Q(state="pending"),
                                    name="catalog_one_pending_per_filing"),
        ]

    def __str__(self) -> str:
        return f"{self.filing.name} · {self.get_state_display()}"

    @property
    def suspended(self) -> bool:
        """An approved entry whose certificate has been revoked since (computed, never stored)."""
        return self.state == CatalogState.APPROVED and self.certificate.revoked_at is not None

    @property
    def public_status(self) -> str:
        return str(_("已暂停（证书已撤销）")) if self.suspended else self.get_state_display()

    @property
    def status_key(self) -> str:
        return "suspended" if self.suspended else self.state


from . import catalog_features, catalog_policies  # noqa: E402, F401  register the policy and the features
