"""Operators enrol an authenticator only through their one-time set-up link."""

from django.urls import reverse


class OperatorEnrolmentMiddleware:
    """Refuse TOTP set-up to a staff account without one, unless this session opened its link.

    Otherwise whoever first signs in with a new operator's password could
    enrol their own authenticator and own the account.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if not (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and request.path == reverse("mfa_activate_totp")
        ):
            return self.get_response(request)
        from mailherd.operator.selectors import (
            operator_has_two_factor,
            session_may_enrol,
        )
        from mailherd.operator.services import operator_enrolment_complete

        if operator_has_two_factor(user):
            return self.get_response(request)
        if not session_may_enrol(request):
            from mailherd.operator.sites import operator_site

            return operator_site.enrolment_required(request).render()
        response = self.get_response(request)
        # Committed by now (allauth's own signal fires only after the session was saved).
        if request.method == "POST" and operator_has_two_factor(user):
            operator_enrolment_complete(request=request, user=user)
        return response
