from django.urls import path

from mailherd.webmail import views

app_name = "webmail"

urlpatterns = [
    path("webmail/<str:address>/", views.webmail_open, name="open"),
]
