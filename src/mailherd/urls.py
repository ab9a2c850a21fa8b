from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from mailherd.api.v1 import api

urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page links to.
    path("favicon.ico", RedirectView.as_view(url=static("mailherd/favicon.svg"), permanent=True)),
    path("operator/", include("mailherd.operator.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", api.urls),
    path("mcp", include("mailherd.mcp.urls")),
    # The OpenID provider; before the portal, whose organization pages are /o/<slug>/.
    path("o/", include("mailherd.webmail.oidc_urls")),
    path("", include("mailherd.webmail.urls")),
    path("", include("mailherd.billing.urls")),
    path("", include("mailherd.hosting.urls")),
    path("", include("mailherd.dns.urls")),
    path("", include("mailherd.deliverability.urls")),
    path("", include("mailherd.operator.portal_urls")),
    path("", include("mailherd.webhooks.urls")),
    path("", include("mailherd.portal.urls")),
]
