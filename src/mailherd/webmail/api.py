"""REST API for mail sign-in: the organization's mode (mailbox users and sso are on PATCH /mailboxes)."""

from ninja import Field, Router, Schema

from mailherd.hosting.api import ErrorOut
from mailherd.webmail import selectors, services

router = Router(tags=["mail sign-in"])


class SignInOut(Schema):
    mode: str = Field(
        ..., description='"password" or "sso" (portal sign-in, mail apps use app passwords)'
    )
    require_two_factor: bool


class SignInIn(Schema):
    mode: str
    require_two_factor: bool | None = None


class SignInChangedOut(SignInOut):
    passwords: dict[str, str] = Field(
        default_factory=dict,
        description="New mailbox passwords (back to password mode); shown once",
    )


def _out(row) -> dict:
    return {"mode": row.sign_in_mode, "require_two_factor": row.require_two_factor}


@router.get("/mail-sign-in", response=SignInOut)
def sign_in_get(request):
    return _out(selectors.organization_webmail(request.organization))


@router.put("/mail-sign-in", response={200: SignInChangedOut, 409: ErrorOut, 422: ErrorOut})
def sign_in_set(request, body: SignInIn):
    row, passwords = services.organization_sign_in_set(
        actor=request.actor,
        organization=request.organization,
        mode=body.mode,
        require_two_factor=body.require_two_factor,
    )
    return {**_out(row), "passwords": dict(passwords)}
