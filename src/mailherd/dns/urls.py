from django.urls import path

from mailherd.dns import views

app_name = "dns"
ORG = "o/<slug:org_slug>/"
DOMAIN = ORG + "domains/<str:name>/dns/"

urlpatterns = [
    path(DOMAIN, views.records_page, name="records"),
    path(DOMAIN + "check/", views.check_now, name="check"),
    path(DOMAIN + "zone/", views.zone_export, name="zone"),
    path(DOMAIN + "settings/", views.settings_update, name="settings"),
    path(DOMAIN + "dmarc-schedule/", views.dmarc_schedule, name="dmarc_schedule"),
    path(DOMAIN + "provider/", views.provider_link, name="provider_link"),
    path(DOMAIN + "push/", views.push, name="push"),
    path(
        DOMAIN + "alerts/<int:regression_id>/dismiss/",
        views.regression_dismiss,
        name="regression_dismiss",
    ),
    path(ORG + "dns-providers/", views.provider_accounts, name="providers"),
    path(
        ORG + "dns-providers/<int:account_id>/delete/",
        views.provider_delete,
        name="provider_delete",
    ),
    path(
        ORG + "mailboxes/<str:address>/setup.mobileconfig", views.mobileconfig, name="mobileconfig"
    ),
    # Public: mail clients fetch these through the autoconfig/autodiscover/mta-sts CNAMEs.
    path("mail/config-v1.1.xml", views.autoconfig, name="autoconfig"),
    path(".well-known/autoconfig/mail/config-v1.1.xml", views.autoconfig),
    path("autodiscover/autodiscover.xml", views.autodiscover, name="autodiscover"),
    path("Autodiscover/Autodiscover.xml", views.autodiscover),
    path(".well-known/mta-sts.txt", views.mta_sts_policy, name="mta_sts"),
]
