from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse

from mailherd.core.actors import Actor, client_ip
from mailherd.core.errors import MailherdError
from mailherd.hosting import services
from mailherd.hosting.models import Alias, Domain, DriftReport, Mailbox, ProvisioningOp
from mailherd.hosting.services.outbox import outbox_discard, outbox_retry
from mailherd.operator.confirm import confirm_action


def _actor(request) -> Actor:
    return Actor.for_user(request.user, ip=client_ip(request))


class DeleteThroughServices:
    """The stock delete view and "Delete selected" go through the portal's delete service.

    So a back-office delete writes the outbox row that removes the object from
    Mailcow and the audit row, like the portal's; never just the database row
    (Mailcow would keep the object and count it against the domain's limits).
    """

    def service_delete(self, actor: Actor, obj) -> None:
        raise NotImplementedError

    def delete_model(self, request, obj):
        self.service_delete(_actor(request), obj)

    def delete_queryset(self, request, queryset):
        actor, refused = _actor(request), []
        for obj in list(queryset):
            try:
                self.service_delete(actor, obj)
            except MailherdError as exc:
                refused.append(f"{obj}: {exc}")
        if refused:
            self.message_user(request, "Not deleted: " + "; ".join(refused), messages.ERROR)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except MailherdError as exc:
            self.message_user(request, f"Not deleted: {exc}", messages.ERROR)
            opts = self.model._meta
            return redirect(reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist"))


@admin.register(Domain)
class DomainAdmin(DeleteThroughServices, admin.ModelAdmin):
    list_display = ["name", "organization", "status", "mail_server", "verified_at", "is_platform", "created_at"]
    list_filter = ["status", "mail_server"]
    search_fields = ["name", "organization__name"]
    list_select_related = ["organization", "mail_server"]
    readonly_fields = [f.name for f in Domain._meta.fields]
    actions = ["make_platform_domain"]

    def has_add_permission(self, request):
        return False  # customers add domains; the back office looks

    @admin.action(description="Make it the platform domain (members of paying organizations get an address)")
    def make_platform_domain(self, request, queryset):
        from mailherd.hosting.services.platform import platform_domain_set

        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one domain.", messages.ERROR)
            return
        try:
            domain = platform_domain_set(actor=Actor.for_user(request.user), name=queryset.get().name)
        except MailherdError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"{domain.name} is the platform domain.")

    def service_delete(self, actor, obj):
        services.domain_delete(actor=actor, organization=obj.organization, name=obj.name, confirm=obj.name)


@admin.register(Mailbox)
class MailboxAdmin(DeleteThroughServices, admin.ModelAdmin):
    list_display = [
        "address",
        "organization",
        "quota_mb",
        "enabled",
        "is_system",
        "sync_status",
        "quota_used_bytes",
        "messages",
    ]
    list_filter = ["sync_status", "enabled"]
    search_fields = ["address", "name", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = [f.name for f in Mailbox._meta.fields]

    def has_add_permission(self, request):
        return False

    def service_delete(self, actor, obj):
        services.mailbox_delete(actor=actor, organization=obj.organization, address=obj.address)


@admin.register(Alias)
class AliasAdmin(DeleteThroughServices, admin.ModelAdmin):
    list_display = ["address", "organization", "enabled", "sync_status"]
    list_filter = ["sync_status", "enabled"]
    search_fields = ["address", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = [f.name for f in Alias._meta.fields]

    def has_add_permission(self, request):
        return False

    def service_delete(self, actor, obj):
        services.alias_delete(actor=actor, organization=obj.organization, address=obj.address)


@admin.register(ProvisioningOp)
class ProvisioningOpAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "object_key",
        "organization",
        "status",
        "attempts",
        "next_attempt_at",
        "short_error",
    ]
    list_filter = ["status", "kind", "mail_server"]
    ordering = ["-id"]  # newest first; the worker's own order is by id ascending
    search_fields = ["object_key", "organization__name", "last_error"]
    list_select_related = ["organization"]
    exclude = ["secret"]
    readonly_fields = [f.name for f in ProvisioningOp._meta.fields if f.name != "secret"]
    actions = ["retry", "discard"]

    @admin.display(description="Error")
    def short_error(self, obj):
        return (obj.last_error[:120] + "…") if len(obj.last_error) > 120 else obj.last_error

    @admin.action(description="Retry the selected parked rows")
    def retry(self, request, queryset):
        count = outbox_retry(
            actor=Actor.for_user(request.user, ip=client_ip(request)),
            op_ids=list(queryset.values_list("pk", flat=True)),
        )
        messages.success(request, f"{count} row(s) queued again.")

    @admin.action(description="Discard the selected parked rows")
    def discard(self, request, queryset):
        page = confirm_action(
            self,
            request,
            queryset,
            action="discard",
            title="Discard these outbox rows?",
            effects="outbox_discard",
            button="Yes, discard",
        )
        if page is not None:
            return page
        count = outbox_discard(
            actor=Actor.for_user(request.user, ip=client_ip(request)),
            op_ids=list(queryset.values_list("pk", flat=True)),
        )
        messages.success(request, f"{count} row(s) discarded.")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a row is retried or discarded (audited), never deleted


@admin.register(DriftReport)
class DriftReportAdmin(admin.ModelAdmin):
    list_display = [
        "identifier",
        "kind",
        "mail_server",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
    ]
    list_filter = ["kind", "mail_server", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["identifier", "detail"]
    readonly_fields = [f.name for f in DriftReport._meta.fields]

    def has_add_permission(self, request):
        return False
