from django import forms
from django.apps import apps
from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from mailherd.mailcow.models import MailServer, Relay


class MailServerForm(forms.ModelForm):
    # The key is write-only: never rendered back into the page.
    api_key = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the current key.",
    )

    class Meta:
        model = MailServer
        fields = [
            "name",
            "api_url",
            "api_key",
            "hostname",
            "imap_host",
            "imap_port",
            "pop3_host",
            "pop3_port",
            "smtp_host",
            "smtp_port",
            "webmail_url",
            "capacity_mailboxes",
            "is_active",
        ]

    def clean_api_key(self):
        value = self.cleaned_data.get("api_key")
        if not value:
            if self.instance.pk:
                return self.instance.api_key
            raise forms.ValidationError("An API key is required.")
        return value

    def clean(self):
        """The checks `mailherd add_server` makes (host names, key accepted, key may write)."""
        from mailherd.core.errors import MailherdError
        from mailherd.mailcow.services import _check_public_names, mail_server_check

        data = super().clean()
        if self.errors:
            return data
        public = {k: data.get(k) or "" for k in ("hostname", "imap_host", "pop3_host", "smtp_host")}
        instance = self.instance if self.instance.pk else None
        try:
            unchanged = instance is not None and not (
                {"api_url", "api_key", "name"} & set(self.changed_data)
                or data.get("api_key") != instance.api_key
            )
            if unchanged:
                _check_public_names(data["api_url"], public)
            else:
                self.checked_version = mail_server_check(
                    name=data.get("name", ""),
                    url=data["api_url"],
                    api_key=data["api_key"],
                    instance=instance,
                    **public,
                )
        except MailherdError as exc:
            field = exc.fields.get("field")
            self.add_error(field if field in self.fields else None, exc.message)
        return data


def _mailbox_model():
    """hosting.Mailbox once it exists (it is being written alongside), else None."""
    try:
        return apps.get_model("hosting", "Mailbox")
    except LookupError:
        return None


@admin.register(MailServer)
class MailServerAdmin(admin.ModelAdmin):
    """The servers page: health, version, and mailboxes against capacity."""

    form = MailServerForm
    list_display = [
        "name",
        "api_url",
        "is_active",
        "version",
        "health",
        "last_health_at",
        "organization_count",
        "mailbox_usage",
    ]
    list_filter = ["is_active", "last_health_ok"]
    readonly_fields = [
        "version",
        "last_health_at",
        "last_health_ok",
        "last_health_error",
        "created_at",
    ]
    actions = ["check_health"]

    def get_queryset(self, request):
        queryset = (
            super()
            .get_queryset(request)
            .annotate(_organizations=Count("organizations", distinct=True))
        )
        mailbox = _mailbox_model()
        if mailbox is None:
            return queryset.annotate(_mailboxes=Value(0))
        mailboxes = (
            mailbox.objects.filter(domain__mail_server=OuterRef("pk"))
            .values("domain__mail_server")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return queryset.annotate(_mailboxes=Coalesce(Subquery(mailboxes), 0))

    @admin.display(description="Health", boolean=True, ordering="last_health_ok")
    def health(self, obj):
        return obj.last_health_ok

    @admin.display(description="Organizations", ordering="_organizations")
    def organization_count(self, obj):
        return obj._organizations

    @admin.display(description="Mailboxes / capacity")
    def mailbox_usage(self, obj):
        used = obj._mailboxes
        percent = round(100 * used / obj.capacity_mailboxes) if obj.capacity_mailboxes else 100
        return f"{used} / {obj.capacity_mailboxes} ({percent}%)"

    def save_model(self, request, obj, form, change):
        """Through the services, as `mailherd add_server`: checked, audited, waiting changes
        applied."""
        from mailherd.core.actors import Actor, client_ip
        from mailherd.mailcow.services import mail_server_register, mail_server_update

        actor = Actor.for_user(request.user, ip=client_ip(request))
        data = {k: form.cleaned_data.get(k) for k in MailServerForm.Meta.fields}
        if change:
            server = mail_server_update(
                actor=actor, server=MailServer.objects.get(pk=obj.pk), **data
            )
        else:
            server = mail_server_register(
                actor=actor,
                name=data.pop("name"),
                url=data.pop("api_url"),
                api_key=data.pop("api_key"),
                **data,
            )
        obj.pk = server.pk
        obj.refresh_from_db()

    @admin.action(description="Check health now")
    def check_health(self, request, queryset):
        from mailherd.mailcow.services import mail_server_health_check

        healthy = sum(mail_server_health_check(server=server) for server in queryset)
        self.message_user(request, f"{healthy} of {queryset.count()} server(s) healthy.")


class RelayForm(forms.ModelForm):
    # Write-only: Mailherd never shows a relay's password back (Mailcow would, in clear).
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the current password.",
    )
    default_for = forms.ModelMultipleChoiceField(
        queryset=MailServer.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Default smarthost of",
        help_text="Every domain on these servers without a relay of its own sends through this one.",
    )

    class Meta:
        model = Relay
        fields = [
            "name",
            "host",
            "port",
            "username",
            "password",
            "spf_include",
            "envelope_subdomain",
            "envelope_mx",
            "dkim_selector",
            "dkim_type",
            "dkim_value",
        ]

    def clean(self):
        from mailherd.core.errors import MailherdError
        from mailherd.mailcow.relays import relay_check

        data = super().clean()
        fields = {k: data.get(k) for k in self.Meta.fields if k in data}
        try:
            relay_check(fields, instance=self.instance if self.instance.pk else None)
        except MailherdError as exc:
            field = exc.fields.get("field")
            self.add_error(field if field in self.fields else None, exc.message)
        return data

    def _post_clean(self):
        pass  # the services write the row (save_model); the model's own checks ran in clean()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["name"].disabled = True
            self.fields["default_for"].initial = list(
                MailServer.objects.filter(default_relay=self.instance)
            )


@admin.register(Relay)
class RelayAdmin(admin.ModelAdmin):
    """Smarthosts: saved through the relay services (validated, audited, domains follow)."""

    form = RelayForm
    list_display = ["name", "hostname_port", "username", "spf_include", "envelope_subdomain", "servers"]
    search_fields = ["name", "host"]

    @admin.display(description="Default of")
    def servers(self, obj):
        return ", ".join(s.name for s in obj.default_for_servers.all()) or "-"

    def save_model(self, request, obj, form, change):
        from mailherd.core.actors import Actor, client_ip
        from mailherd.mailcow.relays import relay_add, relay_update, server_relay_set

        actor = Actor.for_user(request.user, ip=client_ip(request))
        data = {k: form.cleaned_data.get(k) for k in RelayForm.Meta.fields if k != "name"}
        if change:
            relay = relay_update(actor=actor, relay=Relay.objects.get(pk=obj.pk), **data)
        else:
            relay = relay_add(actor=actor, name=form.cleaned_data["name"], **data)
        obj.pk = relay.pk
        wanted = set(form.cleaned_data.get("default_for") or [])
        for server in MailServer.objects.all():
            if server in wanted and server.default_relay_id != relay.pk:
                server_relay_set(actor=actor, server=server, relay=relay)
            elif server not in wanted and server.default_relay_id == relay.pk:
                server_relay_set(actor=actor, server=server, relay=None)

    def delete_model(self, request, obj):
        from mailherd.core.actors import Actor, client_ip
        from mailherd.mailcow.relays import relay_delete

        relay_delete(actor=Actor.for_user(request.user, ip=client_ip(request)), relay=obj)
