"""Mailcow's web side for single sign-on: the `generic-oidc` client and the SSO redirects.

As recorded in reference mailcow-sso.md §1-3 (`inc/triggers.user.inc.php`):

- `GET /?iam_sso=1` keeps a random state in the PHP session (cookie
  MCSESSID) and sends the browser to `authorize_url` (no PKCE, no nonce);
- the callback (at `redirect_url`, i.e. `/`) checks the state, exchanges the
  code with the secret in the POST body and calls `userinfo_url`; a missing
  mailbox (no provisioning), a `mailcow` authsource or an inactive mailbox
  give `login_failed`; no mappers configured crashes the page; a matching
  `mailcow_template` re-applies the template (active again, quota 0);
- success: 302 `/SOGo/so/`, which shows the session's user (nginx's
  `X-User`); SOGo requests never refresh the token;
- every later load of `/` or `/user` does a `refresh_token` grant plus
  userinfo, trusting userinfo's email blindly; a failure destroys the session
  and sends the browser back to the provider;
- `/domainadmin/mailbox?sso_token=T` redeems a domain-admin token (30 s, once).
"""

from __future__ import annotations

import html
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .state import SimState

COOKIE = "MCSESSID"


def _page(
    title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    return HTMLResponse(
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head><body>{body}</body></html>",
        status_code=status,
        headers=headers,
    )


def web_routes(state: SimState) -> list[Route]:
    sessions: dict[str, dict[str, Any]] = {}
    http = httpx.AsyncClient(timeout=10.0, trust_env=False)

    def session_of(request: Request) -> tuple[str, dict[str, Any]]:
        sid = request.cookies.get(COOKIE)
        if sid not in sessions:
            sid = secrets.token_hex(13)
            sessions[sid] = {}
        return sid, sessions[sid]

    def answer(response: Response, sid: str) -> Response:
        response.set_cookie(COOKIE, sid, path="/", httponly=True, samesite="lax")
        return response

    def login_page(alert: str = "") -> HTMLResponse:
        note = (
            f'<div class="alert" role="alert" id="alert">{html.escape(alert)}</div>'
            if alert
            else ""
        )
        return _page(
            "mailcow UI", f"{note}<h1>Login</h1><form method=post><input name=login_user></form>"
        )

    def redirect_uri_for(request: Request, config: dict[str, Any]) -> str:
        host = request.headers.get("host", "")
        for extra in config.get("redirect_url_extra") or []:
            if urlsplit(str(extra)).netloc == host:
                return str(extra)
        return str(config.get("redirect_url"))

    def to_provider(request: Request, sid: str, sess: dict[str, Any]) -> Response:
        config = state.identity_provider
        sess.clear()
        sess["oauth_state"] = secrets.token_hex(16)
        query = urlencode(
            {
                "state": sess["oauth_state"],
                "scope": config.get("client_scopes"),
                "response_type": "code",
                "approval_prompt": "auto",  # league/oauth2-client adds it
                "redirect_uri": redirect_uri_for(request, config),
                "client_id": config.get("client_id"),
            }
        )
        return answer(RedirectResponse(f"{config['authorize_url']}?{query}", status_code=302), sid)

    async def token_call(data: dict[str, str]) -> dict[str, Any] | None:
        config = state.identity_provider
        body = {
            **data,
            "client_id": config.get("client_id"),
            "client_secret": config.get("client_secret"),
        }
        try:
            response = await http.post(str(config["token_url"]), data=body)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    async def userinfo(access_token: str) -> dict[str, Any] | None:
        try:
            response = await http.get(
                str(state.identity_provider["userinfo_url"]),
                headers={"Authorization": f"Bearer {access_token}"},
            )
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    async def refreshed(sess: dict[str, Any]) -> bool:
        """The refresh on every UI page load; the user becomes whatever userinfo says."""
        state.sso_refreshes = getattr(state, "sso_refreshes", 0) + 1
        tokens = await token_call(
            {"grant_type": "refresh_token", "refresh_token": sess.get("refresh_token", "")}
        )
        info = await userinfo(tokens["access_token"]) if tokens else None
        if not tokens or not info or not info.get("email"):
            return False
        sess["access_token"] = tokens["access_token"]
        sess["refresh_token"] = tokens.get("refresh_token", sess["refresh_token"])
        sess["user"] = str(info["email"]).lower()
        return True

    async def callback(request: Request, sid: str, sess: dict[str, Any]) -> Response:
        query = request.query_params
        if not query.get("state") or query.get("state") != sess.pop("oauth_state", None):
            return answer(login_page("login_failed"), sid)
        config = state.identity_provider
        tokens = await token_call(
            {
                "grant_type": "authorization_code",
                "code": query.get("code", ""),
                "redirect_uri": redirect_uri_for(request, config),
            }
        )
        info = await userinfo(tokens["access_token"]) if tokens else None
        if not info or not info.get("email"):
            return answer(login_page("login_failed"), sid)
        email = str(info["email"]).lower()
        with state.lock:
            mailbox = state.mailboxes.get(email)
            if mailbox is None or mailbox.authsource != "generic-oidc":
                return answer(login_page("login_failed"), sid)
            mappers = config.get("mappers") or []
            if not mappers:
                return _page("", "", status=200)  # TypeError from array_search(): an empty page
            if info.get("mailcow_template") in mappers:
                state.usage_changed(mailbox.domain, 0, -mailbox.quota)
                mailbox.active, mailbox.quota = 1, 0  # the template is re-applied (pitfall)
            if mailbox.active != 1:
                return answer(login_page("login_failed"), sid)
        sess.update(
            user=email,
            access_token=tokens["access_token"],
            refresh_token=tokens.get("refresh_token", ""),
        )
        sess["role"] = "user"
        return answer(RedirectResponse("/SOGo/so/", status_code=302), sid)

    async def index(request: Request) -> Response:
        sid, sess = session_of(request)
        query = request.query_params
        if "iam_sso" in query and state.identity_provider.get("authsource") == "generic-oidc":
            return to_provider(request, sid, sess)
        if "code" in query or "error" in query:
            return await callback(request, sid, sess)
        if sess.get("role") == "user":
            if not await refreshed(sess):
                return to_provider(request, sid, sess)
            return answer(RedirectResponse("/user", status_code=302), sid)
        return answer(login_page(), sid)

    async def user_page(request: Request) -> Response:
        sid, sess = session_of(request)
        if sess.get("role") != "user":
            return answer(RedirectResponse("/", status_code=302), sid)
        if not await refreshed(sess):
            return to_provider(request, sid, sess)
        user = html.escape(sess["user"])
        return answer(_page("mailcow UI", f'<h1>Mailbox settings</h1><p id="user">{user}</p>'), sid)

    async def sogo(request: Request) -> Response:
        sid, sess = session_of(request)
        if sess.get("role") != "user":
            return answer(RedirectResponse("/", status_code=302), sid)
        user = html.escape(sess["user"])
        return answer(
            _page(
                "SOGo", f'<h1>SOGo</h1><p id="user">{user}</p>', headers={"X-User": sess["user"]}
            ),
            sid,
        )

    async def domainadmin(request: Request) -> Response:
        sid, sess = session_of(request)
        token = request.query_params.get("sso_token")
        if token:
            with state.lock:
                found = state.sso_tokens.pop(token.upper(), None)
            if found is None or found[1] < time.monotonic() or found[0] not in state.domain_admins:
                return answer(RedirectResponse("/", status_code=302), sid)
            sess.clear()
            sess.update(role="domainadmin", user=found[0])
            return answer(RedirectResponse("/domainadmin/mailbox", status_code=302), sid)
        if sess.get("role") != "domainadmin":
            return answer(RedirectResponse("/", status_code=302), sid)
        admin = state.domain_admins.get(sess["user"])
        domains = ", ".join(admin.domains) if admin else ""
        body = f'<h1>Domain administration</h1><p id="user">{html.escape(sess["user"])}</p><p id="domains">{html.escape(domains)}</p>'
        return answer(_page("mailcow UI", body), sid)

    return [
        Route("/", index),
        Route("/user", user_page),
        Route("/SOGo/so/", sogo),
        Route("/domainadmin/mailbox", domainadmin),
    ]
