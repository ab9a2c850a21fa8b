"""Customer-facing URLs owned by the operator and notifications apps. Include at the site root:

path("", include("mailherd.operator.portal_urls")),
"""

from django.urls import path

from mailherd.operator import portal_views

app_name = "operator_portal"

urlpatterns = [
    path("o/<slug:org_slug>/audit/", portal_views.audit_trail, name="audit"),
    path(
        "announcements/<int:announcement_id>/dismiss/",
        portal_views.announcement_dismiss_view,
        name="announcement_dismiss",
    ),
    path("branding/logo/", portal_views.branding_logo, name="branding_logo"),
]
