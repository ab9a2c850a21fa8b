from django.conf import settings
from ninja.errors import Throttled
from ninja.security import HttpBearer

from mailherd.api.scopes import needed_scope, require_scope
from mailherd.api.services import api_token_authenticate
from mailherd.core import ratelimit
from mailherd.core.actors import Actor, client_ip
from mailherd.core.errors import MailherdError


class ApiNotInPlan(MailherdError):
    code = "feature_not_in_plan"
    http_status = 403


class TooManyFailedTokens(Throttled):
    """Too many wrong bearer tokens from one client address (MAILHERD_API_AUTH_FAILURE_RATE)."""


class TokenAuth(HttpBearer):
    """Bearer token auth; sets request.organization and request.actor for the endpoint.

    Wrong tokens are counted per client address in the shared cache; past
    MAILHERD_API_AUTH_FAILURE_RATE that address gets 429 without any token being checked.
    """

    def authenticate(self, request, token):
        ip = client_ip(request)
        failures_key = f"api-auth-failures:{ip}"
        rate = settings.MAILHERD_API_AUTH_FAILURE_RATE
        wait = ratelimit.exceeded(failures_key, rate)
        if wait:
            raise TooManyFailedTokens(wait=wait)
        api_token = api_token_authenticate(token, ip=ip)
        if api_token is None:
            ratelimit.hit(failures_key, rate)
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
