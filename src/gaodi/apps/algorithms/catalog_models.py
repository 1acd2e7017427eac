"""The recommended catalog of AI algorithm models (推荐目录, Art. 15 para. 1).

An enterprise nominates one of its filed models that holds a passing, issued certificate; the
department that reviewed the filing approves or rejects. A listed entry leaves the catalog when its
enterprise withdraws it, when the department removes it (with a reason), or when its certificate is
revoked (a system transition in the same transaction as the revocation). Whether an entry is
suspended is also computed at read time from its certificate, so a revoked certificate can never
leave a stale entry, even one written before this rule existed.
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
    WITHDRAWN = "withdrawn", _("企业已撤回")
    REMOVED = "removed", _("已移出目录")
    SUSPENDED = "suspended", _("已暂停（证书已撤销）")


# States an entry can leave the catalog into; once it was listed, its page stays public with the reason.
ENDED_STATES = (CatalogState.WITHDRAWN, CatalogState.REMOVED, CatalogState.SUSPENDED)


class CatalogEntryQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(state=CatalogState.PENDING)

    def approved(self):
        return self.filter(state=CatalogState.APPROVED)

    def listed(self):
        """Approved entries whose certificate still stands (shown as recommended, not suspended)."""
        return self.approved().filter(certificate__revoked_at__isnull=True)

    def public(self):
        """Entries that are or were in the catalog: listed ones, and those that left it after listing."""
        return self.filter(models.Q(state=CatalogState.APPROVED)
                           | models.Q(state__in=ENDED_STATES, listed_at__isnull=False))


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
    listed_at = models.DateTimeField(_("列入时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("退出目录时间"), null=True, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    end_reason = models.TextField(_("退出原因"), blank=True)
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
        """Suspended because the certificate was revoked (stored, and also computed for an approved entry)."""
        return self.state == CatalogState.SUSPENDED or (
            self.state == CatalogState.APPROVED and self.certificate.revoked_at is not None)

    @property
    def is_listed(self) -> bool:
        return self.state == CatalogState.APPROVED and not self.suspended

    @property
    def public_status(self) -> str:
        return str(CatalogState.SUSPENDED.label) if self.suspended else self.get_state_display()

    @property
    def badge(self) -> str:
        """The CSS badge class of the status (gaodi.css has one per filing state; reuse their colours)."""
        key = self.status_key
        return {"suspended": "rejected", "removed": "deregistered"}.get(key, key)

    @property
    def status_key(self) -> str:
        return "suspended" if self.suspended else self.state


from . import catalog_features, catalog_policies  # noqa: E402, F401  register the policy and the features
