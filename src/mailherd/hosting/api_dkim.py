"""REST API v1 for a domain's DKIM key and its rotation (hosting.services.dkim_rotation). Thin."""

from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpResponse
from ninja import Field, Router, Schema, Status

from mailherd.hosting.api import _hosting_enabled
from mailherd.hosting.services import dkim_rotation as rotations

router = Router(tags=["domains"])
router.add_decorator(_hosting_enabled)


class RecordOut(Schema):
    type: str = "TXT"
    name: str
    value: str


class RotationOut(Schema):
    status: str = Field(
        description="`publishing` (publish `record`; signing switches once it resolves) or "
        "`switched` (the new key signs; keep `previous_record` until `keep_previous_until`)"
    )
    new_selector: str
    record: RecordOut
    previous_record: RecordOut
    started_at: datetime
    switched_at: datetime | None
    keep_previous_until: datetime | None


class DkimOut(Schema):
    selector: str
    bits: int = Field(description="RSA key length; 0 for a key only the mail server knows")
    record: RecordOut | None
    rotation: RotationOut | None


def _domain(request, name):
    from mailherd.dns.selectors import domain_get

    return domain_get(organization=request.organization, name=name)


def _record(selector, value, domain) -> dict:
    return {"type": "TXT", "name": f"{selector}._domainkey.{domain.name}", "value": value}


def _out(domain) -> dict:
    rotation = rotations.dkim_rotation_open(domain=domain)
    body = {
        "selector": domain.dkim_selector,
        "bits": rotations.dkim_key_bits(domain.dkim_private_key),
        "record": _record(domain.dkim_selector, domain.dkim_txt, domain) if domain.dkim_txt else None,
        "rotation": None,
    }
    if rotation is not None:
        overlap = timedelta(days=settings.MAILHERD_DKIM_ROTATION_OVERLAP_DAYS)
        body["rotation"] = {
            "status": rotation.status,
            "new_selector": rotation.new_selector,
            "record": _record(rotation.new_selector, rotation.new_txt, domain),
            "previous_record": _record(rotation.old_selector, rotation.old_txt, domain),
            "started_at": rotation.created_at,
            "switched_at": rotation.switched_at,
            "keep_previous_until": rotation.switched_at + overlap if rotation.switched_at else None,
        }
    return body


@router.get("/domains/{name}/dkim", response={200: DkimOut}, summary="The domain's DKIM key")
def dkim_get(request, name: str):
    """The key mail is signed with, its record, and a key change under way if any."""
    return Status(200, _out(_domain(request, name)))


@router.post(
    "/domains/{name}/dkim/rotate", response={202: DkimOut}, summary="Change the DKIM key"
)
def dkim_rotate(request, name: str):
    """Makes the next key and answers its record to publish; mail stays signed with the current
    key until that record resolves, then switches by itself. 409 `dkim_rotation_in_progress`
    while a change is under way."""
    domain = _domain(request, name)
    rotations.dkim_rotation_start(
        actor=request.actor, organization=request.organization, name=domain.name
    )
    domain.refresh_from_db()
    return Status(202, _out(domain))


@router.delete(
    "/domains/{name}/dkim/rotation", response={204: None}, summary="Cancel a DKIM key change"
)
def dkim_rotation_cancel(request, name: str):
    """Only before the switch (409 afterwards: the change then finishes by itself)."""
    domain = _domain(request, name)
    rotations.dkim_rotation_cancel(
        actor=request.actor, organization=request.organization, name=domain.name
    )
    return HttpResponse(status=204)
