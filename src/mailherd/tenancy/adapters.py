from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        # An invitation link followed while signed out comes back here after login.
        next_url = request.session.pop("after_login", None)
        return next_url or reverse("portal:home")
