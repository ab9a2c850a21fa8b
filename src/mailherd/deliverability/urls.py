from django.urls import path

from mailherd.deliverability import views

app_name = "deliverability"
DOMAIN = "o/<slug:org_slug>/domains/<str:name>/deliverability/"

urlpatterns = [
    path(DOMAIN, views.domain_page, name="domain"),
    path(DOMAIN + "upload/", views.report_upload, name="upload"),
    path(DOMAIN + "proposal/apply/", views.proposal_apply, name="proposal_apply"),
    path(DOMAIN + "alerts/<int:alert_id>/dismiss/", views.alert_dismiss, name="alert_dismiss"),
]
