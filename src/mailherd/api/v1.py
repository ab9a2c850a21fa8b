"""REST API v1: thin endpoints over the same services the portal uses."""

import logging
import threading

from django.conf import settings
from django.http import Http404
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError
from ninja.throttling import BaseThrottle

from mailherd.api.auth import TokenAuth, TooManyFailedTokens
from mailherd.api.errors import not_found_for_path, plain_validation
from mailherd.core import ratelimit
from mailherd.core.errors import MailherdError, NotFound

logger = logging.getLogger(__name__)


class TokenRateThrottle(BaseThrottle):
    """Requests per API token (MAILHERD_API_RATE, e.g. "3000/m"), counted in the shared cache
    (every web process together; see mailherd.core.ratelimit)."""

    _local = threading.local()  # one throttle object serves every thread

    def allow_request(self, request) -> bool:
        token = getattr(request, "auth", None)
        if token is None:
            return True
        # read per request, so a changed setting applies at once
        self._local.wait = ratelimit.hit(f"api-token:{token.pk}", settings.MAILHERD_API_RATE)
        return self._local.wait is None

    def wait(self):
        return getattr(self._local, "wait", None)


class BrandedNinjaAPI(NinjaAPI):
    """The docs page and the OpenAPI document are titled with the operator's product name."""

    @property
    def title(self) -> str:
        from mailherd.operator.selectors import branding_get

        return f"{branding_get().product_name} API"

    @title.setter
    def title(self, value: str) -> None:
        pass  # the brand decides, per request

    def get_openapi_operation_id(self, operation) -> str:
        # The module path without the package name: customers read these ids.
        module = operation.view_func.__module__.removeprefix("mailherd.")
        return f"{module}_{operation.view_func.__name__}".replace(".", "_")

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        from mailherd.api.openapi import document_errors

        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return document_errors(schema)


api = BrandedNinjaAPI(
    throttle=[TokenRateThrottle()],
    version="1",
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
    auth=TokenAuth(),
    description="Bearer-token JSON API. Errors carry a machine-readable `code` and a human `message`.",
)


class ErrorOut(Schema):
    code: str
    message: str


@api.exception_handler(MailherdError)
def _mailherd_error(request, exc: MailherdError):
    body = exc.as_dict()
    if isinstance(exc, NotFound) and exc.message == NotFound.default_message:
        body["message"] = not_found_for_path(request.path)
    response = api.create_response(request, body, status=exc.http_status)
    if exc.http_status == 429 and exc.fields.get("retry_after"):
        response["Retry-After"] = str(int(exc.fields["retry_after"]))  # as the token rate limit says it
    return response


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    return api.create_response(
        request,
        {
            "code": "unauthorized",
            "message": "Send a valid API token as 'Authorization: Bearer <token>'.",
        },
        status=401,
    )


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(
        request, {"code": "not_found", "message": not_found_for_path(request.path)}, status=404
    )


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc: NinjaValidationError):
    message, errors = plain_validation(exc.errors)
    body = {"code": "invalid", "message": message, "errors": errors}
    if errors:
        body["field"] = errors[0]["field"]
    return api.create_response(request, body, status=422)


@api.exception_handler(Throttled)
def _throttled(request, exc: Throttled):
    response = api.create_response(
        request,
        {
            "code": "rate_limited",
            "message": (
                f"Too many wrong API tokens from your address; retry in {int(exc.wait or 1)} s."
                if isinstance(exc, TooManyFailedTokens)
                else f"Too many requests for this token; retry in {int(exc.wait or 1)} s."
            ),
        },
        status=429,
    )
    response["Retry-After"] = str(int(exc.wait or 1))
    return response


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return api.create_response(
        request, {"code": "error", "message": str(exc)}, status=exc.status_code
    )


def _number_out_of_range(exc: Exception) -> bool:
    from django.db import DataError

    if isinstance(exc, OverflowError):  # SQLite: "Python int too large to convert"
        return True
    return isinstance(exc, DataError) and "out of range" in str(exc)  # PostgreSQL


@api.exception_handler(Exception)
def _server_error(request, exc: Exception):
    """Anything unforeseen: logged with its traceback, answered in JSON, never an HTML page."""
    from django.core.exceptions import RequestDataTooBig, SuspiciousOperation

    from mailherd.core.middleware import server_error_response, too_large_response

    if isinstance(exc, RequestDataTooBig):
        return too_large_response()
    if _number_out_of_range(exc):  # an id or filter bigger than the database's integers
        return api.create_response(
            request,
            {"code": "invalid", "message": "A number in the request is too large."},
            status=422,
        )
    if isinstance(exc, SuspiciousOperation):
        return api.create_response(
            request, {"code": "bad_request", "message": "The request could not be read."}, status=400
        )
    logger.exception("Unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return server_error_response()


def _register_routers() -> None:
    from mailherd.api.account import router as account_router
    from mailherd.deliverability.api import router as deliverability_router
    from mailherd.dns.api import router as dns_router
    from mailherd.hosting.api import router as hosting_router
    from mailherd.webhooks.api import router as webhooks_router
    from mailherd.webmail.api import router as webmail_router

    api.add_router("", hosting_router)
    api.add_router("", deliverability_router)
    api.add_router("", dns_router)
    api.add_router("", webmail_router)
    api.add_router("", webhooks_router)
    api.add_router("", account_router)
    from mailherd.hosting.api_depth import router as depth_router

    api.add_router("", depth_router)
    from mailherd.hosting.api_dkim import router as dkim_router

    api.add_router("", dkim_router)
    from mailherd.rules.api import router as rules_router

    api.add_router("", rules_router)


_register_routers()


class OrganizationOut(Schema):
    slug: str
    name: str
    plan: str
    status: str


class MeOut(Schema):
    organization: OrganizationOut
    token: str


@api.get("/me", response={200: MeOut, 401: ErrorOut}, tags=["account"])
def me(request):
    """The organization that the presented token belongs to."""
    organization = request.organization
    return {
        "organization": {
            "slug": organization.slug,
            "name": organization.name,
            "plan": organization.plan.slug,
            "status": organization.status,
        },
        "token": request.auth.prefix,
    }
