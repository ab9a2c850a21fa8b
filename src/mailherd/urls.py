from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from oauth2_provider.views import OAuthServerMetadataView

from mailherd.api.v1 import api
from mailherd.mcp.oauth import McpResourceMetadataView

urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page links to.
    path("favicon.ico", RedirectView.as_view(url=static("mailherd/favicon.svg"), permanent=True)),
    # OAuth discovery for AI agents (RFC 9728 for /mcp, RFC 8414 for the issuer <site>/o).
    path(
        ".well-known/oauth-protected-resource/mcp",
        McpResourceMetadataView.as_view(),
        name="mcp-resource-metadata",
    ),
    path(
        ".well-known/oauth-authorization-server/o",
        OAuthServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
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
    path("", include("mailherd.rules.urls")),
    path("", include("mailherd.portal.urls")),
]
