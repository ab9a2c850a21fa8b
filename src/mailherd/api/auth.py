from ninja.security import HttpBearer

from mailherd.api.services import api_token_authenticate
from mailherd.core.actors import Actor, client_ip


class TokenAuth(HttpBearer):
    """Bearer token auth; sets request.organization and request.actor for the endpoint."""

    def authenticate(self, request, token):
        api_token = api_token_authenticate(token)
        if api_token is None:
            return None
        request.organization = api_token.organization
        request.actor = Actor.for_token(api_token, ip=client_ip(request))
        return api_token
