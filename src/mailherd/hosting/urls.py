from django.urls import path

from mailherd.hosting import views, views_aliasdomains, views_extras

app_name = "hosting"
ORG = "o/<slug:org_slug>/"

urlpatterns = [
    path(ORG + "domains/", views.domain_list, name="domain_list"),
    path(ORG + "domains/<str:name>/", views.domain_detail, name="domain_detail"),
    path(ORG + "domains/<str:name>/verify/", views.domain_verify, name="domain_verify"),
    path(ORG + "domains/<str:name>/delete/", views.domain_delete, name="domain_delete"),
    path(ORG + "mailboxes/", views.mailbox_list, name="mailbox_list"),
    path(ORG + "mailboxes/new/", views.mailbox_create, name="mailbox_create"),
    path(ORG + "mailboxes/import/", views.mailbox_import, name="mailbox_import"),
    path(
        ORG + "mailboxes/import/progress/",
        views.mailbox_import_progress,
        name="mailbox_import_progress",
    ),
    path(
        ORG + "mailboxes/import/report.csv",
        views.mailbox_import_report,
        name="mailbox_import_report",
    ),
    path(ORG + "mailboxes/export.csv", views.mailbox_export, name="mailbox_export"),
    path(ORG + "mailboxes/<str:address>/", views.mailbox_detail, name="mailbox_detail"),
    path(
        ORG + "mailboxes/<str:address>/password/", views.mailbox_password, name="mailbox_password"
    ),
    path(ORG + "mailboxes/<str:address>/delete/", views.mailbox_delete, name="mailbox_delete"),
    path(ORG + "aliases/", views.alias_list, name="alias_list"),
    path(ORG + "aliases/<str:address>/", views.alias_detail, name="alias_detail"),
    path(ORG + "aliases/<str:address>/delete/", views.alias_delete, name="alias_delete"),
    path(
        ORG + "mailboxes/<str:address>/rate-limit/",
        views_extras.mailbox_rate_limit,
        name="mailbox_rate_limit",
    ),
    path(
        ORG + "domains/<str:name>/rate-limit/",
        views_extras.domain_rate_limit,
        name="domain_rate_limit",
    ),
    path(ORG + "domains/<str:name>/relay/", views_extras.domain_relay, name="domain_relay"),
    path(ORG + "domains/<str:name>/dkim/rotate/", views_extras.domain_dkim_rotate, name="domain_dkim_rotate"),
    path(ORG + "domains/<str:name>/dkim/cancel/", views_extras.domain_dkim_cancel, name="domain_dkim_cancel"),
    path(
        ORG + "domains/<str:name>/alias-domains/",
        views_aliasdomains.alias_domain_add,
        name="alias_domain_add",
    ),
    path(
        ORG + "domains/<str:name>/policy/", views_aliasdomains.domain_policy_add, name="domain_policy_add"
    ),
    path(
        ORG + "domains/<str:name>/policy/<int:entry_id>/delete/",
        views_aliasdomains.domain_policy_delete,
        name="domain_policy_delete",
    ),
    path(ORG + "quarantine/", views_extras.quarantine_page, name="quarantine"),
    path(ORG + "quarantine/<str:item_id>/", views_extras.quarantine_detail, name="quarantine_detail"),
    path(
        ORG + "quarantine/<str:item_id>/action/",
        views_extras.quarantine_action,
        name="quarantine_action",
    ),
    path(ORG + "imports/", views_extras.imports_page, name="imports"),
    path(ORG + "imports/csv/", views_extras.imports_csv, name="imports_csv"),
    path(ORG + "imports/<int:job_id>/", views_extras.import_detail, name="import_detail"),
    path(ORG + "mailboxes/<str:address>/spam/", views_extras.mailbox_spam, name="mailbox_spam"),
]
