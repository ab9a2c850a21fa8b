"""Back office: webmail sign-in per Mailcow server (from the server's page) and the grants."""

from django import forms
from django.contrib import admin
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html

from mailherd.core.actors import Actor, client_ip
from mailherd.core.errors import MailherdError
from mailherd.mailcow.admin import MailServerAdmin
from mailherd.mailcow.models import MailServer
from mailherd.webmail.models import MailboxGrant, SsoClient
from mailherd.webmail.services import webmail_sso_setup


class SsoSetupForm(forms.Form):
    webmail_url = forms.URLField(
        label="Webmail URL", help_text="Mailcow's web address, e.g. https://mail.example.net"
    )
    rotate_secret = forms.BooleanField(required=False, label="Issue a new client secret")


def sso_setup_view(admin_site):
    def view(request, server_id):
        server = get_object_or_404(MailServer, pk=server_id)
        sso = SsoClient.objects.select_related("application").filter(mail_server=server).first()
        form = SsoSetupForm(
            request.POST or None, initial={"webmail_url": sso.webmail_url if sso else ""}
        )
        lines = []
        if request.method == "POST" and form.is_valid():
            try:
                report = webmail_sso_setup(
                    actor=Actor.for_user(request.user, ip=client_ip(request)),
                    mail_server=server,
                    webmail_url=form.cleaned_data["webmail_url"],
                    rotate_secret=form.cleaned_data["rotate_secret"],
                )
                lines = report.lines
                sso = report.sso
            except MailherdError as exc:
                form.add_error(None, exc.message)
        context = {
            **admin_site.each_context(request),
            "title": f"Webmail sign-in for {server.name}",
            "server": server,
            "sso": sso,
            "form": form,
            "report_lines": lines,
        }
        return render(request, "webmail/admin/sso_setup.html", context)

    return admin_site.admin_view(view)


def _get_urls(self, original=MailServerAdmin.get_urls):
    return [
        path(
            "<int:server_id>/webmail-sso/",
            sso_setup_view(self.admin_site),
            name="mailcow_mailserver_webmail_sso",
        ),
        *original(self),
    ]


@admin.display(description="Webmail sign-in")
def webmail_sign_in(self, obj):
    if obj is None or obj.pk is None:
        return "—"
    sso = SsoClient.objects.filter(mail_server=obj).first()
    state = "not set up"
    if sso is not None:
        state = (
            "ready"
            if sso.last_test_ok
            else "set up, last test failed"
            if sso.configured_at
            else "client registered"
        )
    url = reverse("admin:mailcow_mailserver_webmail_sso", args=[obj.pk])
    return format_html('{} · <a href="{}">Set up webmail sign-in</a>', state, url)


# The server page links to the set-up; the servers' admin itself stays in mailcow.admin.
MailServerAdmin.get_urls = _get_urls
MailServerAdmin.webmail_sign_in = webmail_sign_in
MailServerAdmin.readonly_fields = [*MailServerAdmin.readonly_fields, "webmail_sign_in"]


@admin.register(MailboxGrant)
class MailboxGrantAdmin(admin.ModelAdmin):
    list_display = ["mailbox", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["mailbox__address", "user__email"]
    readonly_fields = [
        "user",
        "mailbox",
        "application",
        "created_at",
        "last_used_at",
        "token_family",
    ]
    exclude = ["code_checksum"]
