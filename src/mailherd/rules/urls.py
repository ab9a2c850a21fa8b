from django.urls import path

from mailherd.rules import views

app_name = "rules"
ORG = "o/<slug:org_slug>/"

urlpatterns = [
    path(ORG + "rules/", views.rule_list, name="rule_list"),
    path(ORG + "rules/new/", views.rule_edit, name="rule_new"),
    path(ORG + "rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path(ORG + "rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path(
        ORG + "rules/<int:rule_id>/deliveries/<int:delivery_id>/resend/",
        views.rule_delivery_resend,
        name="rule_delivery_resend",
    ),
    path(ORG + "tasks/", views.task_list, name="task_list"),
    path(ORG + "tasks/<int:task_id>/", views.task_detail, name="task_detail"),
    path(ORG + "notes/", views.note_list, name="note_list"),
    path(ORG + "notes/<int:note_id>/", views.note_detail, name="note_detail"),
    path(
        ORG + "rules/attachments/<int:attachment_id>/",
        views.attachment_download,
        name="attachment_download",
    ),
]
