from django.urls import path

from mailherd.webhooks import views

app_name = "webhooks"
ORG = "o/<slug:org_slug>/"

urlpatterns = [
    path(ORG + "webhooks/", views.endpoint_list, name="endpoint_list"),
    path(ORG + "webhooks/<int:endpoint_id>/", views.endpoint_detail, name="endpoint_detail"),
    path(ORG + "webhooks/<int:endpoint_id>/action/", views.endpoint_action, name="endpoint_action"),
    path(
        ORG + "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/resend/",
        views.delivery_resend,
        name="delivery_resend",
    ),
]
