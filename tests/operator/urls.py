"""The project's URLs plus mailherd.operator.portal_urls, until the root URLconf includes them."""

from django.urls import include, path

from mailherd.urls import urlpatterns as project_urlpatterns

_included = any(getattr(p, "namespace", None) == "operator_portal" for p in project_urlpatterns)
urlpatterns = list(project_urlpatterns)
if not _included:
    urlpatterns.insert(0, path("", include("mailherd.operator.portal_urls")))
