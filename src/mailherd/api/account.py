"""REST API v1 for the organization itself: settings, members, invitations, audit log, billing.

Thin, over the portal's services. Role rules hold as in the portal: a token acts with the role of
the member who created it (tokens made on the command line act as an owner).
"""

from datetime import datetime
from typing import Literal

from ninja import Field, Query, Router, Schema, Status

from mailherd.api.errors import not_found
from mailherd.api.pagination import CURSOR_DESCRIPTION, LIMIT_DESCRIPTION, cursor_page, page_schema
from mailherd.core.errors import PermissionDenied
from mailherd.tenancy import selectors as tenancy_selectors
from mailherd.tenancy import services as tenancy
from mailherd.tenancy.models import Membership, Role

router = Router()

RoleName = Literal["owner", "admin", "billing", "member", "mailbox_user"]


def acting_membership(request) -> Membership:
    """The membership a token acts as: its creator's, or an owner's for command-line tokens."""
    token = request.auth
    if token.created_by_id is None:
        return Membership(organization=request.organization, role=Role.OWNER)
    membership = (
        Membership.objects.select_related("organization", "user")
        .filter(organization=request.organization, user_id=token.created_by_id)
        .first()
    )
    if membership is None:
        raise PermissionDenied(
            "The member who created this token has left the organization; create a new token."
        )
    membership.organization = request.organization
    return membership


# --- organization --------------------------------------------------------------------------------


class OrganizationSettingsOut(Schema):
    slug: str
    name: str
    plan: str
    status: str
    created_at: datetime


class OrganizationPatch(Schema):
    name: str = Field(..., min_length=1, max_length=100, examples=["Acme Ltd"])


def organization_out(organization) -> dict:
    return {
        "slug": organization.slug,
        "name": organization.name,
        "plan": organization.plan.slug,
        "status": organization.status,
        "created_at": organization.created_at,
    }


@router.get(
    "/organization",
    response={200: OrganizationSettingsOut},
    tags=["organization"],
    summary="Get the organization",
)
def organization_get(request):
    """The organization's name, plan and status."""
    return organization_out(request.organization)


@router.patch(
    "/organization",
    response={200: OrganizationSettingsOut},
    tags=["organization"],
    summary="Change the organization's settings",
)
def organization_update(request, body: OrganizationPatch):
    """Rename the organization (owners and admins)."""
    organization = tenancy.organization_rename(
        actor=request.actor, membership=acting_membership(request), name=body.name
    )
    return organization_out(organization)


# --- members and invitations ----------------------------------------------------------------------


class MemberOut(Schema):
    id: int
    email: str
    role: str
    joined_at: datetime


class MemberPatch(Schema):
    role: RoleName


class InvitationIn(Schema):
    email: str = Field(
        ..., max_length=254, pattern=r"^[^@\s]+@[^@\s]+$", examples=["jane@example.com"]
    )
    role: RoleName = "member"


class InvitationOut(Schema):
    id: int
    email: str
    role: str
    expires_at: datetime
    created_at: datetime


MemberPage = page_schema(MemberOut, "MemberPage")
InvitationPage = page_schema(InvitationOut, "InvitationPage")


def member_out(membership) -> dict:
    return {
        "id": membership.pk,
        "email": membership.user.email,
        "role": membership.role,
        "joined_at": membership.created_at,
    }


def invitation_out(invitation) -> dict:
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "role": invitation.role,
        "expires_at": invitation.expires_at,
        "created_at": invitation.created_at,
    }


@router.get("/members", response={200: MemberPage}, tags=["members"], summary="List members")
def members_list(
    request,
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """Everyone with access to the organization, oldest first, with their role."""
    rows = tenancy_selectors.membership_list(organization=request.organization)
    return cursor_page(rows, cursor=cursor, limit=limit, order="id", serialize=member_out)


@router.patch(
    "/members/{member_id}",
    response={200: MemberOut},
    tags=["members"],
    summary="Change a member's role",
)
def members_update(request, member_id: int, body: MemberPatch):
    """Owners and admins change roles; only an owner grants or takes away the owner role, and the
    last owner stays an owner."""
    if not Membership.objects.filter(organization=request.organization, pk=member_id).exists():
        raise not_found("member", member_id)
    member = tenancy.membership_change_role(
        actor=request.actor,
        membership=acting_membership(request),
        member_id=member_id,
        role=body.role,
    )
    return member_out(member)


@router.delete(
    "/members/{member_id}", response={204: None}, tags=["members"], summary="Remove a member"
)
def members_delete(request, member_id: int):
    """Remove a member's access (the last owner cannot be removed)."""
    if not Membership.objects.filter(organization=request.organization, pk=member_id).exists():
        raise not_found("member", member_id)
    tenancy.membership_remove(
        actor=request.actor, membership=acting_membership(request), member_id=member_id
    )
    return Status(204, None)


@router.get(
    "/invitations",
    response={200: InvitationPage},
    tags=["members"],
    summary="List pending invitations",
)
def invitations_list(
    request,
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """Invitations not yet accepted, revoked or expired."""
    rows = tenancy_selectors.invitation_list_pending(organization=request.organization)
    return cursor_page(rows, cursor=cursor, limit=limit, order="id", serialize=invitation_out)


@router.post(
    "/invitations", response={201: InvitationOut}, tags=["members"], summary="Invite someone"
)
def invitations_create(request, body: InvitationIn):
    """Email an invitation link (valid for the days the operator sets, 7 by default); a new invitation to the same
    address replaces the pending one. Owners and admins; only an owner invites an owner."""
    invitation = tenancy.invitation_create(
        actor=request.actor, membership=acting_membership(request), email=body.email, role=body.role
    )
    return Status(201, invitation_out(invitation))


@router.delete(
    "/invitations/{invitation_id}",
    response={204: None},
    tags=["members"],
    summary="Revoke an invitation",
)
def invitations_delete(request, invitation_id: int):
    """The link stops working at once."""
    if not request.organization.invitations.filter(pk=invitation_id).exists():
        raise not_found("invitation", invitation_id)
    tenancy.invitation_revoke(
        actor=request.actor, membership=acting_membership(request), invitation_id=invitation_id
    )
    return Status(204, None)


# --- audit log -----------------------------------------------------------------------------------


class AuditOut(Schema):
    id: int
    created_at: datetime
    action: str
    actor_kind: str
    actor: str
    object_type: str
    object: str
    ip: str | None
    data: dict


AuditPage = page_schema(AuditOut, "AuditPage")


def audit_out(event) -> dict:
    return {
        "id": event.pk,
        "created_at": event.created_at,
        "action": event.action,
        "actor_kind": event.actor_kind,
        "actor": event.actor_label,
        "object_type": event.object_type,
        "object": event.object_repr,
        "ip": event.ip,
        "data": event.data or {},
    }


@router.get("/audit", response={200: AuditPage}, tags=["audit"], summary="The audit log")
def audit_list(
    request,
    action: str = Query(
        "", max_length=100, description="Actions starting with this, e.g. `mailbox.`"
    ),
    actor: str = Query(
        "", max_length=255, description="Part of who did it (an email, `API token …`)."
    ),
    since: datetime | None = Query(None, description="Only events at or after this time."),  # noqa: B008
    until: datetime | None = Query(None, description="Only events before this time."),  # noqa: B008
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """Every change made in the organization, newest first, with the same filters as the portal's
    audit trail plus a time range."""
    from mailherd.operator.selectors import organization_audit_list

    rows = organization_audit_list(organization=request.organization, action=action, actor=actor)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return cursor_page(rows, cursor=cursor, limit=limit, order="-id", serialize=audit_out)


# --- billing (read) ------------------------------------------------------------------------------


class SubscriptionOut(Schema):
    plan: str
    status: str = Field(..., description="`none` when the organization has no subscription.")
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False


class InvoiceOut(Schema):
    number: str
    status: str
    currency: str
    amount_due: int = Field(..., description="In the currency's smallest unit (cents).")
    amount_paid: int
    issued_at: datetime | None
    hosted_invoice_url: str


InvoicePage = page_schema(InvoiceOut, "InvoicePage")


@router.get(
    "/subscription", response={200: SubscriptionOut}, tags=["billing"], summary="The subscription"
)
def subscription_get(request):
    """The plan and the state of its subscription."""
    from mailherd.billing.selectors import subscription_get as select

    row = select(organization=request.organization)
    return {
        "plan": request.organization.plan.slug,
        "status": getattr(row, "status", None) or "none",
        "current_period_end": getattr(row, "current_period_end", None),
        "cancel_at_period_end": bool(getattr(row, "cancel_at_period_end", False)),
    }


class PlanChangeIn(Schema):
    plan: str = Field(..., description="The slug of a plan on sale", examples=["business"])


class PlanChangeOut(Schema):
    outcome: str = Field(
        ...,
        description="`changed` (prorated at once), `started` (with the saved card), `requested` "
        "(the operator approves it: billing by invoice), or `withdrawn` (asking for the current "
        "plan withdraws a pending request).",
    )
    plan: str = Field(..., description="The plan the organization is on now")
    requested_plan: str | None = None


@router.put(
    "/subscription/plan",
    response={200: PlanChangeOut},
    tags=["billing"],
    summary="Change the plan",
)
def subscription_plan_change(request, body: PlanChangeIn):
    """The same as choosing a plan on the billing page. A downgrade the organization does not
    fit in answers 409 `downgrade_blocked` with what to remove (`over`); without a saved card
    409 `card_needed` (add it in the portal); a declined first payment 402. Owners and billing
    members only."""
    from mailherd.billing.services import plan_choose

    outcome, result = plan_choose(
        actor=request.actor, membership=acting_membership(request), plan_slug=body.plan
    )
    request.organization.refresh_from_db(fields=["plan"])
    return {
        "outcome": outcome,
        "plan": request.organization.plan.slug,
        "requested_plan": result.plan.slug if outcome == "requested" else None,
    }


@router.get("/invoices", response={200: InvoicePage}, tags=["billing"], summary="List invoices")
def invoices_list(
    request,
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """Invoices, newest first, with a link to each one's page at the payment provider."""
    from mailherd.billing.selectors import invoice_list

    def out(invoice) -> dict:
        return {
            "number": invoice.number or "",
            "status": invoice.status,
            "currency": invoice.currency,
            "amount_due": invoice.amount_due,
            "amount_paid": invoice.amount_paid,
            "issued_at": invoice.issued_at,
            "hosted_invoice_url": invoice.hosted_invoice_url or "",
        }

    return cursor_page(
        invoice_list(organization=request.organization),
        cursor=cursor,
        limit=limit,
        order="-id",
        serialize=out,
    )
