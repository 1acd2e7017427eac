from django.contrib import admin

from .catalog_models import CatalogEntry
from .evaluation_models import EvaluationCertificate, EvaluationRequest, EvaluationTypeApproval
from .models import AlgorithmFiling, DisclosureBatch, DisclosureItem


@admin.register(AlgorithmFiling)
class FilingAdmin(admin.ModelAdmin):
    """Back-office view. State changes go through the workflow on the review pages, so they are read-only here."""

    list_display = ("name", "filing_number", "version", "organization", "department", "state", "approved_at")
    list_filter = ("state", "category", "district", "department")
    search_fields = ("name", "filing_number", "organization__name")
    readonly_fields = ("state", "filing_number", "version", "kind", "previous", "approved_at", "submitted_at",
                       "deadline", "report_sha256", "created_by")
    raw_id_fields = ("organization", "department")


class ItemInline(admin.TabularInline):
    model = DisclosureItem
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in DisclosureItem._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DisclosureBatch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("number", "title", "department", "period_start", "period_end", "published_at", "item_count")
    inlines = [ItemInline]

    def has_add_permission(self, request):
        return False  # batches are published through the publish page, which freezes them

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Back-office view of rows that only actions change (through the workflow, with audit entries):
    listed, searched and read here, never added, edited or deleted."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EvaluationRequest)
class EvaluationRequestAdmin(ReadOnlyAdmin):
    list_display = ("filing", "organization", "institution", "state", "model_format", "attempt", "progress",
                    "passed", "created_at")
    list_filter = ("state", "model_format", "failure_kind", "institution")
    search_fields = ("filing__name", "filing__filing_number", "organization__name", "institution__name",
                     "endpoint_url")
    list_select_related = ("filing", "organization", "institution")
    # The endpoint credential is for the worker only: not even its ciphertext or hint in the back office.
    exclude = ("endpoint_secret_ciphertext", "endpoint_secret_hint")

    def get_readonly_fields(self, request, obj=None):
        return [f for f in super().get_readonly_fields(request, obj) if f not in self.exclude]


@admin.register(EvaluationCertificate)
class EvaluationCertificateAdmin(ReadOnlyAdmin):
    list_display = ("certificate_id", "request", "issued_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("certificate_id", "request__filing__name", "request__filing__filing_number")
    list_select_related = ("request__filing",)


@admin.register(EvaluationTypeApproval)
class EvaluationTypeApprovalAdmin(ReadOnlyAdmin):
    """Approvals of skops types are insert-only and made by the testing institution on the request page."""

    list_display = ("request", "approved_by", "approved_at")
    list_select_related = ("request",)


@admin.register(CatalogEntry)
class CatalogEntryAdmin(ReadOnlyAdmin):
    list_display = ("filing", "organization", "department", "state", "listed_at", "ended_at")
    list_filter = ("state", "department")
    search_fields = ("filing__name", "filing__filing_number", "organization__name", "certificate__certificate_id")
    list_select_related = ("filing", "organization", "department")
