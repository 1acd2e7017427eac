"""Back-office views. Money moves only through the actions (ledger, vouchers, bills), so those are read-only
here; sites, pools and programmes are edited on their own pages, where the ledger follows budget changes."""

from django.contrib import admin

from .models import (
    Account,
    Job,
    LedgerEntry,
    LedgerTransaction,
    Pool,
    Redemption,
    Site,
    SubsidyProgram,
    Voucher,
    VoucherApplication,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "provider", "hub", "region", "pue", "green_share", "latency_ms")
    list_filter = ("hub", "region")
    search_fields = ("code", "name", "provider__name")
    raw_id_fields = ("provider",)


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = ("code", "site", "accelerator", "count", "price_per_hour", "backend", "active")
    list_filter = ("backend", "active", "accelerator")
    search_fields = ("code", "site__name")


@admin.register(SubsidyProgram)
class ProgramAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "department", "level", "rate", "budget", "valid_from", "valid_to")


@admin.register(VoucherApplication)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ("id", "organization", "program", "amount_requested", "state", "deadline")
    list_filter = ("state", "program")


@admin.register(Voucher)
class VoucherAdmin(ReadOnlyAdmin):
    list_display = ("number", "organization", "program", "amount", "balance", "expires_on")
    search_fields = ("number", "organization__name")


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "organization", "pool", "state", "accelerators", "created_at", "finished_at")
    list_filter = ("state", "backend")


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ("idempotency_key", "organization", "list_price", "subsidy", "payable", "created_at")


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "organization")
    list_filter = ("kind",)


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ("account", "debit", "credit")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LedgerTransaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "memo", "created_at")
    list_filter = ("kind",)
    inlines = [EntryInline]
