"""Notification log (search, resend) and announcements (safe Markdown, audience, banner, email)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.notifications.models import Announcement, NotificationLog
from mailherd.notifications.selectors import announcement_list_active, markdown_render
from mailherd.notifications.services import announcement_email_send, email_send, notification_resend
from mailherd.plans.models import Plan
from mailherd.tenancy.models import Membership, Role
from mailherd.tenancy.services import invitation_create
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

LOG = "/operator/notifications/notificationlog/"


def invite(tenants, email="dave@acme.test"):
    invitation_create(
        actor=Actor.for_user(tenants.alice),
        membership=tenants.alice_membership,
        email=email,
        role=Role.MEMBER,
    )


# --- log and resend -------------------------------------------------------------------------


def test_every_email_is_logged_and_searchable(
    ops_client, tenants, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(tenants)
    log = NotificationLog.objects.get()
    assert (log.to, log.template, log.organization, log.status) == (
        "dave@acme.test",
        "invitation",
        tenants.acme,
        "sent",
    )
    assert ops_client.get(LOG, {"q": "dave@"}).content.count(b"dave@acme.test") >= 1
    assert (
        b"dave@acme.test"
        not in ops_client.get(LOG, {"q": "nobody"}).content.split(b'id="result_list"')[-1]
    )
    assert ops_client.get(LOG, {"status__exact": "sent"}).status_code == 200


def test_the_context_kept_for_resending_is_encrypted(tenants, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(tenants)
    stored = str(NotificationLog.objects.get().context)
    assert "/invitations/" not in stored and "sealed" in stored


def test_an_email_can_be_resent_from_the_log(
    ops_client, tenants, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(tenants)
    original = NotificationLog.objects.get()
    first_body = mail.outbox[-1].body
    response = ops_client.post(
        LOG, {"action": "resend", "_selected_action": [original.pk]}, follow=True
    )
    assert b"Resent 1 of 1" in response.content
    assert len(mail.outbox) == 2 and mail.outbox[-1].body == first_body  # same link, same words
    assert NotificationLog.objects.count() == 2
    assert AuditEvent.objects.get(action="notification.resend").organization == tenants.acme


def test_a_failed_send_is_logged_with_its_error(tenants, settings):
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.EmailBackend"
    log = email_send(
        to="x@acme.test", template="invitation", context={"link": "l"}, organization=tenants.acme
    )
    assert log.status == "failed" and "connection refused" in log.error
    assert notification_resend(actor=Actor.system(), log_id=log.pk).status == "failed"


# --- announcements --------------------------------------------------------------------------


def announce(**fields) -> Announcement:
    plans = fields.pop("plans", [])
    defaults = {
        "title": "Maintenance tonight",
        "body": "We upgrade **storage**.",
        "starts_at": timezone.now() - timedelta(minutes=1),
    }
    announcement = Announcement.objects.create(**{**defaults, **fields})
    announcement.plans.set(plans)
    return announcement


def test_markdown_is_rendered_without_html_or_scripts():
    html = markdown_render(
        "**Bold** <script>alert(1)</script> <img src=x onerror=alert(1)> [ok](https://example.com) [bad](javascript:alert(1))"
    )
    assert "<strong>Bold</strong>" in html
    assert (
        "<script" not in html
        and "onerror" not in html
        and "<img" not in html
        and "javascript:" not in html
    )
    assert '<a href="https://example.com" rel="noopener noreferrer">ok</a>' in html


def test_the_banner_shows_active_announcements_in_the_portal(alice_client, tenants):
    announce(severity="warning")
    announce(
        title="Old news",
        starts_at=timezone.now() - timedelta(days=3),
        ends_at=timezone.now() - timedelta(days=1),
    )
    announce(title="Future news", starts_at=timezone.now() + timedelta(days=1))
    content = alice_client.get(f"/o/{tenants.acme.slug}/").content.decode()
    assert "Maintenance tonight" in content and "<strong>storage</strong>" in content
    assert "announcement-warning" in content
    assert "Old news" not in content and "Future news" not in content


def test_announcements_for_chosen_plans_reach_only_those_plans(tenants):
    business = Plan.objects.get(slug="business")
    announce(title="For business", audience="plans", plans=[business])
    assert announcement_list_active(organization=tenants.acme, user=tenants.alice) == []
    tenants.globex.plan = business
    tenants.globex.save()
    assert [
        a.title for a in announcement_list_active(organization=tenants.globex, user=tenants.bob)
    ] == ["For business"]


def test_a_dismissed_banner_stays_dismissed_for_that_user_only(alice_client, tenants):
    announcement = announce()
    response = alice_client.post(
        f"/announcements/{announcement.pk}/dismiss/",
        {"next": f"/o/{tenants.acme.slug}/"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and response.content == b""
    assert b"Maintenance tonight" not in alice_client.get(f"/o/{tenants.acme.slug}/").content
    assert [
        a.pk for a in announcement_list_active(organization=tenants.globex, user=tenants.bob)
    ] == [announcement.pk]


def test_a_permanent_announcement_cannot_be_dismissed(alice_client, tenants):
    announce(dismissible=False, severity="critical")
    content = alice_client.get(f"/o/{tenants.acme.slug}/").content.decode()
    assert "Maintenance tonight" in content and "announcement-close" not in content


def test_dismissing_needs_a_signed_in_user_and_a_post(client, tenants):
    announcement = announce()
    assert (
        client.post(f"/announcements/{announcement.pk}/dismiss/").status_code == 302
    )  # to sign-in
    client.force_login(tenants.alice)
    assert client.get(f"/announcements/{announcement.pk}/dismiss/").status_code == 405
    response = client.post(
        f"/announcements/{announcement.pk}/dismiss/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_an_announcement_is_emailed_once_to_owners_and_admins_of_its_audience(tenants):
    carol = make_user("carol@acme.test")
    Membership.objects.create(organization=tenants.acme, user=carol, role=Role.ADMIN)
    dan = make_user("dan@acme.test")
    Membership.objects.create(organization=tenants.acme, user=dan, role=Role.MEMBER)
    announcement = announce(send_email=True, body="Read [the notes](https://status.example/notes).")

    from mailherd.notifications.tasks import announcement_emails_task

    assert announcement_emails_task() == 3
    assert announcement_emails_task() == 0  # once only
    assert announcement_email_send(announcement_id=announcement.pk) == 0
    assert sorted(m.to[0] for m in mail.outbox) == [
        "alice@acme.test",
        "bob@globex.test",
        "carol@acme.test",
    ]
    message = mail.outbox[0]
    assert message.subject == "Maintenance tonight"
    assert 'href="https://status.example/notes"' in message.alternatives[0][0]


def test_the_operator_can_email_an_announcement_from_the_back_office(ops_client, tenants):
    announcement = announce(starts_at=timezone.now() + timedelta(hours=1))
    ops_client.post(
        "/operator/notifications/announcement/",
        {"action": "send_email_now", "_selected_action": [announcement.pk]},
    )
    assert len(mail.outbox) == 2
    announcement.refresh_from_db()
    assert announcement.emailed_at is not None


def test_announcements_are_created_in_the_back_office(ops_client, tenants):
    business = Plan.objects.get(slug="business")
    now = timezone.now()
    data = {
        "title": "New webmail",
        "body": "Try it *now*.",
        "severity": "info",
        "audience": "plans",
        "plans": [business.pk],
        "starts_at_0": now.strftime("%Y-%m-%d"),
        "starts_at_1": "00:00:00",
        "ends_at_0": "",
        "ends_at_1": "",
        "dismissible": "on",
    }
    response = ops_client.post("/operator/notifications/announcement/add/", data)
    assert response.status_code == 302, response.content
    missing_plans = ops_client.post(
        "/operator/notifications/announcement/add/", {**data, "plans": []}
    )
    assert b"Choose at least one plan" in missing_plans.content


def test_subjects_are_plain_text_not_html_escaped(db):
    from mailherd.notifications.services import email_send

    email_send(
        to="dave@acme.test",
        template="invitation",
        context={
            "inviter": "alice@acme.test",
            "organization": "Smith & Sons <Ltd>",
            "role": "member",
            "link": "http://x/i/1/",
        },
    )
    message = mail.outbox[-1]
    assert "Smith & Sons <Ltd>" in message.subject and "&amp;" not in message.subject
    html = message.alternatives[0][0]
    assert "Smith &amp; Sons &lt;Ltd&gt;" in html  # the HTML body still escapes
