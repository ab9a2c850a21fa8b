"""OAuth 2.1 for AI agents, as the MCP authorization specification describes.

Mailherd's OpenID provider (django-oauth-toolkit, under /o/) is the authorization server:

- discovery: `/.well-known/oauth-protected-resource/mcp` (RFC 9728) names `<site>/o` as the
  authorization server, whose metadata is at `/.well-known/oauth-authorization-server/o`
  (RFC 8414; also under `/o/.well-known/…` for clients that look there);
- an agent registers itself at `/o/register/` (RFC 7591, open, throttled per address) as a
  public client with PKCE; only https or loopback redirect URIs;
- a member who may manage API tokens approves it at `/o/authorize/` for one organization whose
  plan includes MCP, with full or read-only access (`AgentGrant`);
- the code exchange creates the grant's API token; every access token of the chain stands for
  it (`mailherd.mcp.server` verifies them), so revoking that token in the portal ends the agent,
  and its refreshes fail.
"""

import hashlib
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from oauth2_provider.models import get_access_token_model
from oauth2_provider.views import (
    DynamicClientRegistrationView,
    OAuthProtectedResourceMetadataView,
)

AGENT_SCOPE = "mcp"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def checksum(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def mcp_resource_url() -> str:
    return f"{settings.SITE_URL.rstrip('/')}/mcp"


def issuer_url() -> str:
    return f"{settings.SITE_URL.rstrip('/')}/o"


# --- selectors -------------------------------------------------------------------------------------


def is_agent_application(application) -> bool:
    """Agents are the clients that registered themselves (webmail clients are made by operators)."""
    return application is not None and application.registration_source == "dcr"


def is_agent_client_id(client_id: str) -> bool:
    from oauth2_provider.models import get_application_model

    return (
        get_application_model()
        .objects.filter(client_id=client_id or "", registration_source="dcr")
        .exists()
    )


def eligible_memberships(user):
    """The memberships through which `user` may connect an agent: owner or admin, MCP in the plan."""
    from mailherd.tenancy.models import Membership
    from mailherd.tenancy.selectors import can_manage_members

    memberships = Membership.objects.filter(user=user).select_related("organization__plan")
    return [
        m
        for m in memberships
        if can_manage_members(m)
        and m.organization.plan is not None
        and m.organization.plan.has_feature("mcp")
    ]


def grant_refusal(grant) -> str | None:
    """Why a grant no longer lets its agent in, or None."""
    from mailherd.tenancy.models import Membership
    from mailherd.tenancy.selectors import can_manage_members

    if grant.api_token_id is not None and grant.api_token.revoked_at is not None:
        return "The agent's access was revoked."
    membership = Membership.objects.filter(
        user_id=grant.user_id, organization_id=grant.organization_id
    ).first()
    if membership is None or not can_manage_members(membership):
        return "The person who approved the agent can no longer manage API access."
    return None


def grant_for_code(code_checksum: str):
    from mailherd.mcp.models import AgentGrant

    return (
        AgentGrant.objects.select_related("api_token", "organization", "application")
        .filter(code_checksum=code_checksum)
        .first()
    )


def grant_for_refresh_token(refresh_token):
    from mailherd.mcp.models import AgentGrant

    if refresh_token.token_family is None:
        return None
    return (
        AgentGrant.objects.select_related("api_token", "organization", "application")
        .filter(token_family=refresh_token.token_family)
        .first()
    )


def api_token_for_access_token(raw: str):
    """The API token an agent's OAuth access token stands for, or None (unknown, expired,
    meant for another resource, or its grant no longer holds)."""
    access = (
        get_access_token_model()
        .objects.select_related("agent_binding__grant__api_token__organization__plan")
        .filter(token_checksum=checksum(raw))
        .first()
    )
    binding = getattr(access, "agent_binding", None) if access is not None else None
    if binding is None or access.is_expired() or not access.allows_audience(mcp_resource_url()):
        return None
    grant = binding.grant
    if grant.api_token is None or grant_refusal(grant) or grant.api_token.is_expired:
        return None
    return grant.api_token, access


# --- services --------------------------------------------------------------------------------------


def agent_grant_create(*, request, code_checksum: str):
    """Record the member's approval (called as the authorization code is made)."""
    from mailherd.core.actors import Actor
    from mailherd.core.audit import audit_record
    from mailherd.mcp.models import AgentGrant

    choice = request.mailherd_agent
    grant = AgentGrant.objects.create(
        user=request.user,
        organization_id=choice["organization_id"],
        application=request.client,
        scopes=choice["scopes"],
        code_checksum=code_checksum,
    )
    audit_record(
        actor=Actor.for_user(request.user),
        action="agent.approve",
        organization=grant.organization,
        obj=grant,
        data={"client": request.client.name or request.client.client_id, "scopes": grant.scopes},
    )
    return grant


def agent_grant_redeem(grant):
    """On the code exchange: the API token the agent's tokens will stand for (made once)."""
    from mailherd.api.services import api_token_create
    from mailherd.core.actors import Actor

    if grant.api_token_id is None:
        name = f"AI agent: {grant.application.name or grant.application.client_id}"[:100]
        token, _plaintext = api_token_create(  # the plaintext is never used: OAuth tokens stand in
            actor=Actor.for_user(grant.user),
            organization=grant.organization,
            name=name,
            scopes=grant.scopes,
        )
        grant.api_token = token
        grant.save(update_fields=["api_token"])
    return grant


def agent_access_token_bind(*, access_token, grant) -> None:
    from mailherd.mcp.models import AgentAccessToken

    AgentAccessToken.objects.create(access_token=access_token, grant=grant)


def agent_token_family_set(*, grant, token_family) -> None:
    from mailherd.mcp.models import AgentGrant

    if token_family is not None and grant.token_family != token_family:
        AgentGrant.objects.filter(pk=grant.pk).update(token_family=token_family)
        grant.token_family = token_family


# --- views -----------------------------------------------------------------------------------------


def _redirect_uri_problem(uri: str) -> str | None:
    parts = urlsplit(uri)
    if parts.fragment:
        return f"{uri}: a redirect URI cannot have a fragment."
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return None  # native apps listen on loopback (RFC 8252)
    return f"{uri}: use https, or http on a loopback address."


class AgentRegistrationView(DynamicClientRegistrationView):
    """/o/register/: open registration for agents, https or loopback redirects, per-address limit."""

    def post(self, request, *args, **kwargs):
        import json

        from mailherd.core.actors import client_ip

        key = f"mcp-dcr:{client_ip(request) or '-'}"
        cache.add(key, 0, timeout=3600)
        if cache.incr(key) > settings.MAILHERD_AGENT_REGISTRATIONS_PER_HOUR:
            return JsonResponse(
                {
                    "error": "slow_down",
                    "error_description": "Too many client registrations from this address.",
                },
                status=429,
            )
        try:
            data = json.loads(request.body or b"null")
        except ValueError:
            data = None
        if isinstance(data, dict):
            uris = data.get("redirect_uris")
            if isinstance(uris, list):
                for uri in uris:
                    problem = _redirect_uri_problem(uri) if isinstance(uri, str) else None
                    if problem:
                        return JsonResponse(
                            {"error": "invalid_redirect_uri", "error_description": problem},
                            status=400,
                        )
            name = data.get("client_name")
            if isinstance(name, str) and len(name) > 255:
                return JsonResponse(
                    {
                        "error": "invalid_client_metadata",
                        "error_description": "client_name can have at most 255 characters.",
                    },
                    status=400,
                )
        return super().post(request, *args, **kwargs)


class McpResourceMetadataView(OAuthProtectedResourceMetadataView):
    """RFC 9728 for the MCP endpoint: who issues its tokens and which scope to ask for."""

    def get_resource(self, request):
        return mcp_resource_url()

    def get_authorization_servers(self, request):
        return [issuer_url()]

    def get_scopes_supported(self):
        return [AGENT_SCOPE]

    def get_resource_name(self):
        from mailherd.operator.selectors import branding_get

        return f"{branding_get().product_name} MCP"
