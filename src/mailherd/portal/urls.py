from django.urls import path

from mailherd.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("portal/", views.home, name="home"),
    path("portal/new-organization/", views.organization_create, name="organization_create"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("sign-in/<str:uid>/<str:token>/", views.sign_in_link, name="sign_in_link"),
    path("o/<slug:org_slug>/", views.dashboard, name="dashboard"),
    path("o/<slug:org_slug>/settings/", views.organization_settings, name="settings"),
    path("o/<slug:org_slug>/members/", views.members, name="members"),
    path("o/<slug:org_slug>/members/<int:member_id>/role/", views.member_role, name="member_role"),
    path(
        "o/<slug:org_slug>/members/<int:member_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path(
        "o/<slug:org_slug>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("o/<slug:org_slug>/api-tokens/", views.api_tokens, name="api_tokens"),
    path(
        "o/<slug:org_slug>/api-tokens/<int:token_id>/revoke/",
        views.api_token_revoke_view,
        name="api_token_revoke",
    ),
]
