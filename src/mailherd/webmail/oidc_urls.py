"""The OpenID provider's endpoints, mounted at /o/ (before the portal's /o/<org>/ pages)."""

from django.urls import path, re_path
from oauth2_provider import views as dot

from mailherd.mcp import oauth as agents
from mailherd.webmail import oidc

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize/", oidc.MailboxAuthorizationView.as_view(), name="authorize"),
    path("token/", oidc.MailboxTokenView.as_view(), name="token"),
    path("revoke_token/", dot.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", oidc.MailboxIntrospectView.as_view(), name="introspect"),
    path("userinfo/", oidc.MailboxUserInfoView.as_view(), name="user-info"),
    re_path(
        r"^\.well-known/openid-configuration/?$",
        dot.ConnectDiscoveryInfoView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(".well-known/jwks.json", dot.JwksInfoView.as_view(), name="jwks-info"),
    # RFC 8414 under the issuer, for clients that look there (the root form is in mailherd.urls).
    path(
        ".well-known/oauth-authorization-server",
        dot.OAuthServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    # AI agents register themselves (RFC 7591/7592).
    path("register/", agents.AgentRegistrationView.as_view(), name="dcr-register"),
    path(
        "register/<str:client_id>/",
        dot.DynamicClientRegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
]

# Organization slugs that would be shadowed by these paths (tenancy refuses them).
RESERVED_SLUGS = frozenset(
    {"authorize", "token", "revoke_token", "introspect", "userinfo", "logout", "register"}
)
