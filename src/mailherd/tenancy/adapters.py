from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    """Sign-in throttling that an outsider cannot turn into a lock-out.

    Failed passwords count per client address, per address + account, and,
    far higher, per account (ACCOUNT_RATE_LIMITS login_failed*). Only
    failures count, so the real user's correct password from their own address
    still works while someone elsewhere guesses.
    """

    def get_client_ip(self, request):
        from mailherd.core.actors import client_ip

        return client_ip(request) or "0.0.0.0"  # noqa: S104  (a key, not a bind address)

    def _throttle_keys(self, request, credentials) -> list[tuple[str, str | None]]:
        login = (credentials.get("email") or credentials.get("username") or "").lower()
        return [
            ("login_failed", None),  # per address (the rate's "ip")
            ("login_failed_address_account", f"{self.get_client_ip(request)}:{login}"),
            ("login_failed_account", login),
        ]

    def pre_authenticate(self, request, **credentials):
        from allauth.core import ratelimit

        for action, key in self._throttle_keys(request, credentials):
            if not ratelimit.consume(request, action=action, key=key, dry_run=True):
                raise self.validation_error("too_many_login_attempts")

    def authentication_failed(self, request, **credentials):
        from allauth.core import ratelimit

        for action, key in self._throttle_keys(request, credentials):
            ratelimit.consume(request, action=action, key=key)

    def get_login_redirect_url(self, request):
        # An invitation link followed while signed out comes back here after login.
        next_url = request.session.pop("after_login", None)
        return next_url or reverse("portal:home")
