from ninja.security import HttpBearer

from mailherd.api.scopes import needed_scope, require_scope
from mailherd.api.services import api_token_authenticate
from mailherd.core.actors import Actor, client_ip
from mailherd.core.errors import MailherdError


class ApiNotInPlan(MailherdError):
    code = "feature_not_in_plan"
    http_status = 403


class TokenAuth(HttpBearer):
    """Bearer token auth; sets request.organization and request.actor for the endpoint."""

    def authenticate(self, request, token):
        api_token = api_token_authenticate(token, ip=client_ip(request))
        if api_token is None:
            return None
        if not api_token.organization.plan.has_feature("api"):
            raise ApiNotInPlan(
                "Your plan does not include the REST API. Choose a plan with API access to use it.",
                feature="api",
            )
        require_scope(api_token, needed_scope(request.method, request.path))
        request.organization = api_token.organization
        request.actor = Actor.for_token(api_token, ip=client_ip(request))
        return api_token
