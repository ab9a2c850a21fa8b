"""Mailherd's OpenID provider (django-oauth-toolkit) with webmail's mailbox binding.

Generic for any OAuth client; what is particular to a webmail client
(a `SsoClient`, i.e. a Mailcow server's `generic-oidc` provider):

- no PKCE (Mailcow sends no code challenge) and no consent screen;
- the mailbox chosen at /webmail/<address>/ is bound to the code, and through
  it to every access and refresh token of the chain (`MailboxGrant`);
- the binding is checked again on the code exchange, every refresh, userinfo
  and introspection (`selectors.grant_refusal`): a suspended organization, a
  switched-off mailbox or an unassigned user gets nothing, so Mailcow ends
  the session at its next refresh;
- userinfo answers the bound mailbox: lower-case `email`, `name`, never
  `mailcow_template` (a matching template would be re-applied by Mailcow).

Authorization codes are stored as SHA-256 checksums (DOT stores tokens that
way too, COMPLIANT_BCP_RFC9700_TOKEN_STORAGE).
"""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.views import AuthorizationView, IntrospectTokenView, TokenView, UserInfoView

from mailherd.mcp import oauth as agents
from mailherd.webmail import selectors
from mailherd.webmail.models import BoundAccessToken, MailboxGrant, RefreshReplay

SESSION_MAILBOX_KEY = "webmail_mailbox"


def checksum(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class MailherdOAuth2Validator(OAuth2Validator):
    # -- webmail clients ---------------------------------------------------------

    def is_pkce_required(self, client_id, request):
        if selectors.is_webmail_client_id(client_id):
            return False  # Mailcow's generic-oidc sends no code_challenge
        return super().is_pkce_required(client_id, request)

    @staticmethod
    def _is_webmail(application) -> bool:
        return selectors.sso_client_for_application(application) is not None

    # -- codes: checksums at rest, bound to the chosen mailbox -------------------

    def _create_authorization_code(self, request, code, expires=None):
        hashed = checksum(code["code"])
        grant = super()._create_authorization_code(request, {**code, "code": hashed}, expires)
        mailbox_id = getattr(request, "mailherd_mailbox_id", None)
        if getattr(request, "mailherd_agent", None) is not None:
            agents.agent_grant_create(request=request, code_checksum=hashed)
        elif agents.is_agent_application(request.client):
            raise ValueError("an agent's code needs an approved organization")  # the view sets it
        elif mailbox_id is not None:
            MailboxGrant.objects.create(
                user=request.user,
                mailbox_id=mailbox_id,
                application=request.client,
                code_checksum=hashed,
            )
        elif self._is_webmail(request.client):
            raise ValueError("a webmail code needs a chosen mailbox")  # the view always sets one
        return grant

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        hashed = checksum(code)
        if not super().validate_code(client_id, hashed, client, request, *args, **kwargs):
            return False
        if agents.is_agent_application(client):
            agent_grant = agents.grant_for_code(hashed)
            if agent_grant is None or agents.grant_refusal(agent_grant):
                return False
            request.agent_grant = agents.agent_grant_redeem(agent_grant)
            return True
        if not self._is_webmail(client):
            return True
        grant = (
            MailboxGrant.objects.select_related("mailbox__organization", "user")
            .filter(code_checksum=hashed)
            .first()
        )
        if grant is None or selectors.grant_refusal(grant):
            return False
        request.mailbox_grant = grant
        return True

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        return super().invalidate_authorization_code(
            client_id, checksum(code), request, *args, **kwargs
        )

    def get_code_challenge(self, code, request):
        return super().get_code_challenge(checksum(code), request)

    def get_code_challenge_method(self, code, request):
        return super().get_code_challenge_method(checksum(code), request)

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request):
        return super().get_authorization_code_scopes(
            client_id, checksum(code), redirect_uri, request
        )

    def get_authorization_code_nonce(self, client_id, code, redirect_uri, request):
        return super().get_authorization_code_nonce(
            client_id, checksum(code), redirect_uri, request
        )

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs):
        return super().confirm_redirect_uri(
            client_id, checksum(code), redirect_uri, client, *args, **kwargs
        )

    # -- tokens: every token of a webmail chain carries the grant ----------------

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        grant = getattr(request, "mailbox_grant", None)
        if grant is not None:
            BoundAccessToken.objects.create(access_token=access_token, grant=grant)
        agent_grant = getattr(request, "agent_grant", None)
        if agent_grant is not None:
            agents.agent_access_token_bind(access_token=access_token, grant=agent_grant)
        return access_token

    def _create_refresh_token(
        self, request, refresh_token_code, access_token, previous_refresh_token
    ):
        refresh_token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        agent_grant = getattr(request, "agent_grant", None)
        if agent_grant is not None:
            agents.agent_token_family_set(grant=agent_grant, token_family=refresh_token.token_family)
        grant = getattr(request, "mailbox_grant", None)
        if grant is not None and grant.token_family != refresh_token.token_family:
            MailboxGrant.objects.filter(pk=grant.pk).update(token_family=refresh_token.token_family)
            grant.token_family = refresh_token.token_family
        return refresh_token

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        if agents.is_agent_application(client):
            agent_grant = agents.grant_for_refresh_token(request.refresh_token_instance)
            if agent_grant is None or agents.grant_refusal(agent_grant):
                return False
            request.agent_grant = agent_grant
            return True
        if not self._is_webmail(client):
            return True
        grant = selectors.grant_for_refresh_token(request.refresh_token_instance)
        if grant is None or selectors.grant_refusal(grant):
            return False
        MailboxGrant.objects.filter(pk=grant.pk).update(last_used_at=timezone.now())
        request.mailbox_grant = grant
        return True

    def validate_bearer_token(self, token, scopes, request):
        if not super().validate_bearer_token(token, scopes, request):
            return False
        grant = selectors.grant_for_access_token(request.access_token)
        if grant is None:
            # A webmail client's tokens are always bound; an unbound one is refused.
            return not self._is_webmail(request.access_token.application)
        if selectors.grant_refusal(grant):
            request.oauth2_error = {
                "error": "invalid_token",
                "error_description": "The session was ended.",
            }
            return False
        request.mailbox_grant = grant
        return True

    # -- claims --------------------------------------------------------------------

    def get_additional_claims(self, request):
        grant = getattr(request, "mailbox_grant", None)
        if grant is not None:
            mailbox = grant.mailbox
            return {
                "email": mailbox.address.lower(),
                "email_verified": True,
                "name": mailbox.name or mailbox.local_part,
            }
        user = request.user
        return {
            "email": user.email.lower(),
            "email_verified": True,
            "name": user.full_name or user.email,
        }


# -- views ---------------------------------------------------------------------------


def chosen_mailbox(request, sso_client):
    """The mailbox remembered by /webmail/<address>/, if it lives on this client's server."""
    from mailherd.hosting.models import Mailbox

    chosen = request.session.get(SESSION_MAILBOX_KEY) or {}
    mailbox = (
        Mailbox.objects.select_related("organization", "domain").filter(pk=chosen.get("id")).first()
        if chosen.get("id")
        else None
    )
    if mailbox is None or mailbox.domain.mail_server_id != sso_client.mail_server_id:
        return None
    return mailbox


def refused(request, code: str, message: str, status: int = 403):
    return render(
        request, "webmail/refused.html", {"code": code, "message": message}, status=status
    )


class MailboxAuthorizationView(AuthorizationView):
    """/o/authorize/: for a webmail client, answer at once for the chosen mailbox or refuse; an
    agent (MCP) gets a consent page where the member picks the organization and access level."""

    mailherd_mailbox = None
    mailherd_agent = None

    def _client_id(self) -> str:
        return self.request.GET.get("client_id") or self.request.POST.get("client_id") or ""

    def _is_agent(self) -> bool:
        return agents.is_agent_client_id(self._client_id())

    def get_form_class(self):
        if self._is_agent():
            from mailherd.mcp.forms import AgentAllowForm

            return AgentAllowForm
        return super().get_form_class()

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        if self._is_agent():
            kwargs["memberships"] = agents.eligible_memberships(self.request.user)
        return kwargs

    def get_template_names(self):
        if self._is_agent():
            return ["mcp/authorize.html"]
        return super().get_template_names()

    def form_valid(self, form):
        if self._is_agent() and form.cleaned_data.get("allow"):
            self.mailherd_agent = form.agent_choice()
        return super().form_valid(form)

    def _webmail_check(self, request):
        sso_client = selectors.sso_client_for_application(
            get_application_model()
            .objects.filter(client_id=request.GET.get("client_id", ""))
            .first()
        )
        if sso_client is None:
            return None
        mailbox = self._mailbox_for_flow(request, sso_client)
        if isinstance(mailbox, list):  # several: the person picks one (a flow started elsewhere)
            return render(
                request,
                "webmail/choose_mailbox.html",
                {"mailboxes": mailbox, "query": request.GET.copy()},
            )
        if mailbox is None:
            return refused(
                request, "no_mailbox_chosen", "Open webmail from the portal's mailbox page.", 400
            )
        refusal = selectors.mailbox_refusal(user=request.user, mailbox=mailbox)
        if refusal:
            return refused(request, *refusal)
        self.mailherd_mailbox = mailbox
        return None

    @staticmethod
    def _mailbox_for_flow(request, sso_client):
        """The mailbox this sign-in is for: the one named in the request (`login_hint`, or the
        chooser's pick), else the one chosen in the portal ("Open webmail"), else the person's
        only mailbox on this server; a list when they have several (a flow that started at
        Roundcube, say); None when they have none."""
        named = (request.GET.get("login_hint") or request.GET.get("mailbox") or "").lower()
        usable = [
            m
            for m in selectors.mailboxes_for_user(user=request.user)
            if m.domain.mail_server_id == sso_client.mail_server_id
            and selectors.mailbox_refusal(user=request.user, mailbox=m) is None
        ]
        if named:
            return next((m for m in usable if m.address.lower() == named), None)
        chosen = chosen_mailbox(request, sso_client)
        if chosen is not None:
            return chosen
        if len(usable) == 1:
            return usable[0]
        return sorted(usable, key=lambda m: m.address) or None

    def get(self, request, *args, **kwargs):
        if (
            request.user.is_authenticated
            and self._is_agent()
            and not agents.eligible_memberships(request.user)
        ):
            return render(request, "mcp/refused.html", status=403)
        return self._webmail_check(request) or super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        if selectors.is_webmail_client_id(request.POST.get("client_id", "")):
            return refused(request, "consent_not_used", "Webmail sign-in needs no consent.", 400)
        return super().post(request, *args, **kwargs)

    def create_authorization_response(self, request, scopes, credentials, allow):
        if self.mailherd_mailbox is not None:
            credentials = {**credentials, "mailherd_mailbox_id": self.mailherd_mailbox.pk}
        if self.mailherd_agent is not None:
            credentials = {**credentials, "mailherd_agent": self.mailherd_agent}
        return super().create_authorization_response(request, scopes, credentials, allow)


def _client_credentials(request) -> tuple[str, str]:
    import base64
    from urllib.parse import unquote_plus

    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return unquote_plus(client_id), unquote_plus(secret)
        except (ValueError, UnicodeDecodeError):
            return "", ""
    return request.POST.get("client_id", ""), request.POST.get("client_secret", "")


def _token_error(description: str) -> JsonResponse:
    response = JsonResponse(
        {"error": "invalid_grant", "error_description": description}, status=400
    )
    response["Cache-Control"] = "no-store"
    return response


class MailboxTokenView(TokenView):
    """/o/token/: refreshes of one token are serialised; parallel ones get the first's answer."""

    def post(self, request, *args, **kwargs):
        presented = request.POST.get("refresh_token")
        if request.POST.get("grant_type") != "refresh_token" or not presented:
            return super().post(request, *args, **kwargs)
        key = checksum(presented)
        now = timezone.now()
        with transaction.atomic():
            rows = list(
                get_refresh_token_model().objects.select_for_update().filter(token_checksum=key)
            )
            replay = (
                RefreshReplay.objects.select_related("grant")
                .filter(refresh_checksum=key, expires_at__gt=now)
                .first()
            )
            if replay is not None:
                return self._replay(request, replay, rows)
            response = super().post(request, *args, **kwargs)
            grace = settings.OAUTH_REFRESH_GRACE_SECONDS
            if response.status_code == 200 and grace and rows:
                RefreshReplay.objects.filter(expires_at__lte=now).delete()
                RefreshReplay.objects.update_or_create(
                    refresh_checksum=key,
                    defaults={
                        "grant": selectors.grant_for_refresh_token(rows[0]),
                        "response": response.content.decode(),
                        "expires_at": now + timedelta(seconds=grace),
                    },
                )
        return response

    @staticmethod
    def _replay(request, replay, rows):
        client_id, secret = _client_credentials(request)
        application = rows[0].application if rows else None
        if (
            application is None
            or application.client_id != client_id
            or not check_password(secret, application.client_secret)
        ):
            return _token_error("The refresh token is invalid.")
        if replay.grant is not None and selectors.grant_refusal(replay.grant):
            return _token_error("The session was ended.")
        response = HttpResponse(replay.response, content_type="application/json")
        response["Cache-Control"] = "no-store"
        return response


class MailboxUserInfoView(UserInfoView):
    """/o/userinfo/: the bound mailbox's email and name (validator.get_additional_claims)."""


class MailboxIntrospectView(IntrospectTokenView):
    """/o/introspect/ (RFC 7662): a webmail token is active only while its grant holds; the
    username is the bound mailbox, which Dovecot's oauth2 passdb compares with the login."""

    @staticmethod
    def get_token_response(token_value=None):
        response = IntrospectTokenView.get_token_response(token_value)
        if response.status_code != 200 or not json.loads(response.content).get("active"):
            return response
        data = json.loads(response.content)
        token = (
            get_access_token_model()
            .objects.select_related("application")
            .get(token_checksum=checksum(token_value))
        )
        grant = selectors.grant_for_access_token(token)
        if grant is None:
            if selectors.sso_client_for_application(token.application) is not None:
                return JsonResponse({"active": False})
            return response
        if selectors.grant_refusal(grant):
            return JsonResponse({"active": False})
        data["username"] = data["email"] = grant.mailbox.address.lower()
        return JsonResponse(data)
