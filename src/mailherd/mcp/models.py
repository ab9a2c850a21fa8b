"""AI agents connected by OAuth (the MCP authorization flow).

An agent registers itself (RFC 7591, DOT's `registration_source = dcr`), a member approves it for
one organization in the portal, and the approval is an `AgentGrant`. Each grant is backed by an
API token whose plaintext nobody ever sees: the agent's OAuth access tokens stand for it, so the
token's scopes, rate limit, audit label and revocation apply to the agent exactly as to a script.
"""

from django.conf import settings
from django.db import models
from oauth2_provider.settings import oauth2_settings


class AgentGrant(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="agent_grants"
    )
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    scopes = models.JSONField(default=list)
    # Made when the code is first exchanged; revoking it (portal → API tokens) ends the agent.
    api_token = models.OneToOneField(
        "api.ApiToken", on_delete=models.CASCADE, null=True, blank=True, related_name="agent_grant"
    )
    # SHA-256 of the authorization code (the code itself is never stored).
    code_checksum = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # DOT's refresh-token family: every rotated refresh token of this grant shares it.
    token_family = models.UUIDField(unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.application.name or self.application.client_id} for {self.organization}"


class AgentAccessToken(models.Model):
    """Which grant an access token was issued for."""

    access_token = models.OneToOneField(
        oauth2_settings.ACCESS_TOKEN_MODEL, on_delete=models.CASCADE, related_name="agent_binding"
    )
    grant = models.ForeignKey(AgentGrant, on_delete=models.CASCADE, related_name="access_tokens")

    def __str__(self) -> str:
        return f"token for {self.grant}"
