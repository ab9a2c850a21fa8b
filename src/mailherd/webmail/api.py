"""REST API for mail sign-in: the organization's mode (mailbox users and sso are on PATCH /mailboxes)."""

from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from mailherd.core.errors import NotFound
from mailherd.hosting.api import ErrorOut
from mailherd.webmail import app_passwords, autoreply, selectors, services

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


@router.get("/mail-sign-in", response=SignInOut, summary="How mailboxes sign in")
def sign_in_get(request):
    """`password` (each mailbox has its own) or `sso` (people open webmail from the portal; mail
    apps use app passwords), and whether opening webmail needs two-factor sign-in."""
    return _out(selectors.organization_webmail(request.organization))


@router.put("/mail-sign-in", response={200: SignInChangedOut, 409: ErrorOut, 422: ErrorOut}, summary="Change how mailboxes sign in")
def sign_in_set(request, body: SignInIn):
    """`sso`: every mailbox gets a random password first (so an old one cannot come back),
    then signs in through the portal; mail apps use app passwords. Back to `password`: new
    mailbox passwords, answered once in `passwords`."""
    row, passwords = services.organization_sign_in_set(
        actor=request.actor,
        organization=request.organization,
        mode=body.mode,
        require_two_factor=body.require_two_factor,
    )
    return {**_out(row), "passwords": dict(passwords)}


# -- app passwords -----------------------------------------------------------------


class AppPasswordIn(Schema):
    name: str = Field(..., description="The app or device that uses it")
    protocols: list[str] = Field(
        default_factory=lambda: ["imap", "smtp"],
        description="Any of imap, smtp, pop3, dav, eas, sieve",
    )


class AppPasswordOut(Schema):
    id: int
    name: str
    protocols: list[str]
    status: str = Field(..., description='"pending" until the mail server has it, then "active"')
    created_at: str


class AppPasswordCreatedOut(AppPasswordOut):
    password: str = Field(
        ..., description="Shown once; use it in the mail app instead of a mailbox password"
    )


@router.post(
    "/mailboxes/{address}/app-passwords",
    response={201: AppPasswordCreatedOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, summary="Create an app password")
def app_passwords_create(request, address: str, body: AppPasswordIn):
    """A password for one mail app, limited to the chosen `protocols` (imap, smtp, pop3, dav, eas,
    sieve). Answered once in `password`; only Mailcow keeps it."""
    app_password, password = app_passwords.app_password_create(
        actor=request.actor,
        organization=request.organization,
        address=address,
        name=body.name,
        protocols=body.protocols,
    )
    return Status(201, app_passwords.app_password_out(app_password, password))


@router.get(
    "/mailboxes/{address}/app-passwords", response={200: list[AppPasswordOut], 404: ErrorOut}, summary="List app passwords")
def app_passwords_list(request, address: str):
    """The mailbox's app passwords with their names, protocols and creation time (never the
    passwords)."""
    rows = app_passwords.app_password_list(organization=request.organization, address=address)
    return [app_passwords.app_password_out(row) for row in rows]


@router.delete(
    "/mailboxes/{address}/app-passwords/{app_password_id}",
    response={204: None, 404: ErrorOut, 409: ErrorOut}, summary="Revoke an app password")
def app_passwords_delete(request, address: str, app_password_id: int):
    """The mail app using it can no longer sign in."""
    app_passwords.app_password_delete(
        actor=request.actor,
        organization=request.organization,
        address=address,
        app_password_id=app_password_id,
    )
    return Status(204, None)


# -- out-of-office ---------------------------------------------------------------------


class AutoReplyIo(Schema):
    enabled: bool
    subject: str = ""
    message: str = ""
    starts_on: str | None = Field(None, description="YYYY-MM-DD, first day (optional)")
    ends_on: str | None = Field(None, description="YYYY-MM-DD, last day (optional)")


def _reply_out(reply) -> dict:
    return {
        "enabled": reply.enabled,
        "subject": reply.subject,
        "message": reply.message,
        "starts_on": reply.starts_on.isoformat() if reply.starts_on else None,
        "ends_on": reply.ends_on.isoformat() if reply.ends_on else None,
    }


@router.get("/mailboxes/{address}/out-of-office", response={200: AutoReplyIo, 404: ErrorOut}, summary="The out-of-office reply")
def autoreply_get(request, address: str):
    """Whether it is on, its subject, text and dates."""
    from mailherd.hosting.selectors import mailbox_get

    mailbox = mailbox_get(organization=request.organization, address=address)
    if mailbox is None:
        raise NotFound("No such mailbox.")
    return _reply_out(autoreply.autoreply_get(mailbox))


@router.put(
    "/mailboxes/{address}/out-of-office",
    response={200: AutoReplyIo, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, summary="Set the out-of-office reply")
def autoreply_put(request, address: str, body: AutoReplyIo):
    """On with a subject, text and optional dates (it starts and stops by itself), or off. Applied
    to the mail server as a Sieve filter through the outbox."""
    reply = autoreply.autoreply_set(
        actor=request.actor, organization=request.organization, address=address, **body.dict()
    )
    return _reply_out(reply)


class AdminLinkOut(Schema):
    url: str = Field(
        ..., description="Opens the mail server's domain-admin pages; single use, valid 30 s"
    )


@router.post(
    "/mailcow-admin",
    response={200: AdminLinkOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 502: ErrorOut}, summary="Open the mail server's admin pages")
def mailcow_admin_link(request):
    """A one-time link (valid for 30 seconds) to the mail server's own administration for the
    organization's domains; owners only, where the plan includes it."""
    return {
        "url": services.mailcow_admin_open(actor=request.actor, organization=request.organization)
    }


# -- the mailbox user's own settings: forwarding, protocols, spam filter level ----------------


def _mailbox_or_404(request, address):
    from mailherd.hosting.selectors import mailbox_get

    mailbox = mailbox_get(organization=request.organization, address=address)
    if mailbox is None:
        raise NotFound("No such mailbox.")
    return mailbox


class ForwardingIo(Schema):
    targets: list[str] = Field(
        default_factory=list, description="Up to five addresses; empty switches forwarding off"
    )
    keep_copy: bool = Field(True, description="Keep a copy in this mailbox too")


def _forwarding_out(row) -> dict:
    return {"targets": list(row.targets), "keep_copy": row.keep_copy}


@router.get("/mailboxes/{address}/forwarding", response={200: ForwardingIo, 404: ErrorOut}, summary="The mailbox's forwarding")
def forwarding_get(request, address: str):
    """The addresses mail is forwarded to, and whether a copy is kept in the mailbox."""
    from mailherd.webmail import selfservice

    return _forwarding_out(selfservice.forwarding_get(_mailbox_or_404(request, address)))


@router.put(
    "/mailboxes/{address}/forwarding",
    response={200: ForwardingIo, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, summary="Set the mailbox's forwarding")
def forwarding_put(request, address: str, body: ForwardingIo):
    """Up to five addresses, with or without keeping a copy (an empty list stops forwarding).
    Addresses outside the organization's domains need the plan's external forwarding."""
    from mailherd.webmail import selfservice

    row = selfservice.forwarding_set(
        actor=request.actor,
        organization=request.organization,
        address=address,
        targets=body.targets,
        keep_copy=body.keep_copy,
    )
    return _forwarding_out(row)


class ProtocolsIo(Schema):
    model_config = ConfigDict(extra="forbid")

    imap: bool | None = None
    pop3: bool | None = None
    smtp: bool | None = None
    sieve: bool | None = None
    sogo: bool | None = Field(None, description="Webmail")


@router.get("/mailboxes/{address}/protocols", response={200: ProtocolsIo, 404: ErrorOut}, summary="The mailbox's protocol access")
def protocols_get(request, address: str):
    """Which of IMAP, POP3, SMTP, Sieve and webmail the mailbox may use."""
    from mailherd.webmail import selfservice

    return selfservice.mailbox_protocols(_mailbox_or_404(request, address))


@router.put(
    "/mailboxes/{address}/protocols",
    response={200: ProtocolsIo, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, summary="Set the mailbox's protocol access")
def protocols_put(request, address: str, body: ProtocolsIo):
    """Switch protocols on (true) or off (false); those left out keep their setting."""
    from mailherd.webmail import selfservice

    mailbox = selfservice.mailbox_protocols_set(
        actor=request.actor,
        organization=request.organization,
        address=address,
        protocols=body.model_dump(exclude_none=True),
    )
    return selfservice.mailbox_protocols(mailbox)


class SpamFilterIn(Schema):
    level: str = Field(..., description='"strict", "default" or "relaxed"')


class SpamFilterOut(Schema):
    level: str = Field(..., description='"strict", "default", "relaxed" or "custom"')
    low: float | None = Field(None, description="Score from which mail goes to Junk")
    high: float | None = Field(None, description="Score from which mail is refused")


def _spam_out(mailbox) -> dict:
    from mailherd.webmail import selfservice

    return {
        "level": selfservice.spam_level_of(mailbox),
        "low": mailbox.spam_low,
        "high": mailbox.spam_high,
    }


@router.get("/mailboxes/{address}/spam-filter", response={200: SpamFilterOut, 404: ErrorOut}, summary="The mailbox's spam filter level")
def spam_filter_get(request, address: str):
    """`strict`, `default`, `relaxed`, or `custom` when other thresholds were set on the mailbox."""
    return _spam_out(_mailbox_or_404(request, address))


@router.put(
    "/mailboxes/{address}/spam-filter",
    response={200: SpamFilterOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, summary="Set the mailbox's spam filter level")
def spam_filter_put(request, address: str, body: SpamFilterIn):
    """`strict` (Junk from score 5, refused from 10), `default` (the server's own), or `relaxed`
    (12 and 25)."""
    from mailherd.webmail import selfservice

    mailbox = selfservice.mailbox_spam_level_set(
        actor=request.actor, organization=request.organization, address=address, level=body.level
    )
    return _spam_out(mailbox)
