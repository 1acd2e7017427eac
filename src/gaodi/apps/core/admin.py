from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import (
    Article,
    AuditEntry,
    Chapter,
    Membership,
    Notification,
    Organization,
    PersonalAccessToken,
    User,
    WorkflowHistory,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["organization"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "district", "duty", "size_class")
    list_filter = ("kind", "district", "size_class", "duty")
    search_fields = ("name", "name_en", "code", "credit_code")
    readonly_fields = ("size_class",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    fieldsets = (*BaseUserAdmin.fieldsets, ("Gaodi", {"fields": ("display_name", "elder_mode")}))


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    list_display = ("number", "title")


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("number", "title", "chapter")
    search_fields = ("title", "text")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence (history, audit) is visible to admins but never editable, even by them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WorkflowHistory)
class WorkflowHistoryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "content_type", "object_id", "transition", "from_state", "to_state", "actor")
    list_filter = ("content_type", "transition")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "actor_name", "action", "object_type", "object_id")
    list_filter = ("action",)
    search_fields = ("actor_name", "action", "object_id")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("recipient", "message", "created_at", "read_at")


@admin.register(PersonalAccessToken)
class TokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "key_prefix", "created_at", "expires_at", "revoked_at")
    readonly_fields = ("key_prefix", "key_hash")
