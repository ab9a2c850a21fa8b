"""`Idempotency-Key` on every API POST, as Stripe does and the IETF draft describes.

The first request with a key runs; its answer is kept (per organization, 24 hours). A retry with
the same key and the same request gets that answer again (`Idempotent-Replayed: true`) and changes
nothing. The same key with a different request is refused (422 `idempotency_key_reused`); a retry
while the first is still running gets 409 `idempotency_key_in_progress`. Answers that say nothing
happened (401, 429, 5xx) are not kept, so a retry runs anew.
"""

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255
NOT_KEPT = {401, 429}


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode() + b"\0")
    body = request.body
    try:  # the same JSON with other spacing or key order is the same request
        body = json.dumps(
            json.loads(body or b"null"), sort_keys=True, separators=(",", ":")
        ).encode()
    except (ValueError, UnicodeDecodeError):
        pass
    digest.update(body)
    return digest.hexdigest()


def _organization(request):
    from mailherd.api.services import api_token_authenticate

    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        token = api_token_authenticate(raw.strip())
    except Exception:  # noqa: BLE001 - expired and the like: the API itself answers
        return None
    return token.organization if token is not None else None


def purge_expired() -> int:
    from mailherd.api.models import IdempotencyRecord

    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEEP_FOR).delete()
    return deleted


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path.startswith("/api/v1/"):
            return self.get_response(request)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return _error(
                400,
                "bad_request",
                f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable characters,"
                " e.g. a UUID.",
            )
        organization = _organization(request)
        if organization is None:
            return self.get_response(request)  # the API answers 401
        return self._run_once(request, organization, key)

    def _run_once(self, request, organization, key):
        from mailherd.api.models import IdempotencyRecord

        fingerprint = _fingerprint(request)
        for _ in range(2):
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        organization=organization,
                        key=key,
                        fingerprint=fingerprint,
                        method=request.method,
                        path=request.path[:2000],
                    )
                break
            except IntegrityError:
                earlier = IdempotencyRecord.objects.filter(
                    organization=organization, key=key
                ).first()
                if earlier is None:
                    continue
                if earlier.created_at < timezone.now() - KEEP_FOR:
                    earlier.delete()
                    continue
                return self._replay(earlier, fingerprint)
        else:
            return _error(409, "idempotency_key_in_progress", "Retry in a moment.")
        try:
            response = self.get_response(request)
        except BaseException:
            record.delete()
            raise
        if response.status_code >= 500 or response.status_code in NOT_KEPT or response.streaming:
            record.delete()
            return response
        record.status_code = response.status_code
        record.content_type = response.get("Content-Type", "")[:100]
        record.body = response.content.decode("utf-8", errors="replace")
        record.save(update_fields=["status_code", "content_type", "body"])
        return response

    @staticmethod
    def _replay(record, fingerprint):
        from django.http import HttpResponse

        if record.fingerprint != fingerprint:
            return _error(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already used for a different request; use a new key for"
                " a new request.",
            )
        if record.status_code is None:
            return _error(
                409,
                "idempotency_key_in_progress",
                "The first request with this Idempotency-Key is still running; retry in a moment.",
            )
        response = HttpResponse(
            record.body, status=record.status_code, content_type=record.content_type or None
        )
        response["Idempotent-Replayed"] = "true"
        return response
