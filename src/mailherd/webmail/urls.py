from django.urls import path

from mailherd.webmail import portal_views, views

app_name = "webmail"
ORG = "o/<slug:org_slug>/"

urlpatterns = [
    path("webmail/<str:address>/", views.webmail_open, name="open"),
    path(ORG + "mail-sign-in/", portal_views.sign_in_settings, name="sign_in"),
    path(ORG + "mailcow-admin/", portal_views.mailcow_admin, name="mailcow_admin"),
    path(ORG + "my-mailboxes/", portal_views.my_mailboxes, name="my_mailboxes"),
    path(ORG + "my-mailboxes/<str:address>/", portal_views.mailbox_self, name="mailbox_self"),
    path(ORG + "mailboxes/<str:address>/user/", portal_views.mailbox_user, name="mailbox_user"),
]
