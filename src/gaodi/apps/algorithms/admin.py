from django.contrib import admin

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
