from django.contrib import admin

from .labeling_models import Annotation, LabelingProject, ReviewDecision
from .models import AccessApplication, AccessLog, Dataset, GradingDecision, Grant, OpenListVersion, Resource
from .products_models import DataProduct


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("title", "publisher", "theme", "open_type", "security_level", "updated_at")
    list_filter = ("theme", "open_type", "security_level")
    search_fields = ("title", "title_en", "publisher__name")
    raw_id_fields = ("publisher", "created_by")
    readonly_fields = ("open_type", "security_level")  # changed by grading decisions (recorded beside suggestions)


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ("name", "dataset", "kind")
    raw_id_fields = ("dataset",)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessApplication)
class ApplicationAdmin(ReadOnlyAdmin):
    """State changes go through the workflow on the application pages."""

    list_display = ("id", "dataset", "applicant", "organization", "state", "deadline")
    list_filter = ("state",)


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ("id", "dataset", "grantee", "starts_at", "expires_at", "revoked_at")


@admin.register(OpenListVersion)
class OpenListVersionAdmin(ReadOnlyAdmin):
    list_display = ("department", "number", "change", "created_at")


@admin.register(GradingDecision)
class GradingDecisionAdmin(ReadOnlyAdmin):
    list_display = ("dataset", "security_level", "open_type", "follows_suggestion", "created_at")


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "dataset", "user", "ip", "allowed", "reason")
    list_filter = ("allowed",)


@admin.register(DataProduct)
class DataProductAdmin(ReadOnlyAdmin):
    """Cards change through the publisher's pages and the API (actions check completeness and listing)."""

    list_display = ("title", "publisher", "state", "price_model", "listing_status", "updated_at")
    list_filter = ("state", "price_model", "listing_status")
    search_fields = ("title", "title_en", "publisher__name", "listing_code")


@admin.register(LabelingProject)
class LabelingProjectAdmin(ReadOnlyAdmin):
    """Projects, annotations and decisions change through the labeling pages and the API."""

    list_display = ("name", "organization", "kind", "overlap", "closed_at", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "organization__name")


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ("task", "annotator", "updated_at")


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(ReadOnlyAdmin):
    list_display = ("task", "decided_by", "accepted_annotator", "created_at")
