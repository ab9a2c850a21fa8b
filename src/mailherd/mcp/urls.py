from django.urls import path

from mailherd.mcp.views import endpoint

app_name = "mcp"

urlpatterns = [path("", endpoint, name="endpoint")]
