"""REST API v1 for Mailcow's deeper features (quarantine, sync jobs): thin, over the services."""

from datetime import datetime

from ninja import Field, Router, Schema, Status

from mailherd.hosting import quarantine
from mailherd.hosting.api import ErrorOut, _hosting_enabled

router = Router(tags=["mail"])
router.add_decorator(_hosting_enabled)


class HeldOut(Schema):
    id: str = Field(..., description="<server>-<message>: pass it back as is")
    subject: str
    sender: str
    recipient: str
    score: float | None
    virus: bool
    action: str = Field(..., description="What the filter decided: reject, add_header...")
    received_at: datetime | None
    status: str = Field(..., description="held, releasing or deleting")


class PreviewOut(HeldOut):
    headers: dict[str, str]
    text: str = Field(..., description="The text of the message (HTML reduced to text)")
    attachments: list[str]
    size: int


class ReleaseIn(Schema):
    learn_ham: bool = Field(False, description="Also teach the spam filter that this was good mail")


@router.get("/quarantine", response={200: list[HeldOut], 503: ErrorOut})
def quarantine_list(request, mailbox: str | None = None):
    """Messages the spam filter held for your addresses, newest first."""
    return [
        m.as_dict()
        for m in quarantine.quarantine_list(organization=request.organization, mailbox=mailbox)
    ]


@router.get("/quarantine/{item_id}", response={200: PreviewOut, 404: ErrorOut, 503: ErrorOut})
def quarantine_get(request, item_id: str):
    """One held message: headers and text, to decide whether to release it."""
    return quarantine.quarantine_preview(organization=request.organization, item_id=item_id)


@router.post(
    "/quarantine/{item_id}/release",
    response={202: HeldOut, 404: ErrorOut, 409: ErrorOut, 503: ErrorOut},
)
def quarantine_release(request, item_id: str, body: ReleaseIn | None = None):
    """Deliver the message to its recipient (the mail server does it within seconds)."""
    held = quarantine.quarantine_release(
        actor=request.actor,
        organization=request.organization,
        item_id=item_id,
        learn_ham=bool(body and body.learn_ham),
    )
    return Status(202, held.as_dict())


@router.delete(
    "/quarantine/{item_id}", response={204: None, 404: ErrorOut, 409: ErrorOut, 503: ErrorOut}
)
def quarantine_delete(request, item_id: str):
    """Delete the held message for good."""
    quarantine.quarantine_delete(
        actor=request.actor, organization=request.organization, item_id=item_id
    )
    return Status(204, None)


# -- IMAP migration (sync jobs) ------------------------------------------------------------


class SyncJobIn(Schema):
    mailbox: str = Field(..., description="One of your mailboxes: where the mail goes")
    host: str = Field(..., description="The old IMAP server, e.g. imap.oldprovider.com")
    port: int | None = Field(None, description="Default 993 for ssl, 143 otherwise")
    security: str = Field("ssl", description="ssl, starttls or plain")
    user: str = Field(..., description="User name on the old server")
    password: str = Field(
        ..., description="Password on the old server (kept encrypted while the job exists)"
    )


class SyncJobOut(Schema):
    id: int
    mailbox: str
    host: str
    port: int
    security: str
    user: str
    active: bool
    status: str = Field(..., description="pending (being set up), active, or error")
    running: bool
    last_run_at: datetime | None
    last_run_ok: bool | None
    last_run_status: str
    last_log: str
    last_error: str
    created_at: datetime


class SyncJobBulkIn(Schema):
    jobs: list[SyncJobIn] = Field(..., description="At most 500")


class SyncJobBulkItemOut(Schema):
    mailbox: str
    result: str = Field(..., description="created or refused")
    code: str | None = None
    message: str | None = None
    job: SyncJobOut | None = None


def sync_job_out(job) -> dict:
    return {
        "id": job.pk,
        "mailbox": job.mailbox.address,
        "host": job.host,
        "port": job.port,
        "security": job.security,
        "user": job.username,
        "active": job.active,
        "status": job.sync_status,
        "running": job.is_running,
        "last_run_at": job.last_run_at,
        "last_run_ok": job.last_run_ok,
        "last_run_status": job.last_run_status,
        "last_log": job.last_log,
        "last_error": job.last_error,
        "created_at": job.created_at,
    }


def _source(body: SyncJobIn):
    from mailherd.hosting.services.syncjobs import SourceMailbox

    return SourceMailbox(
        mailbox=body.mailbox,
        host=body.host,
        port=body.port,
        security=body.security,
        user=body.user,
        password=body.password,
    )


def _job_or_404(request, job_id):
    from django.http import Http404

    from mailherd.hosting.selectors import sync_job_get

    job = sync_job_get(organization=request.organization, job_id=job_id)
    if job is None:
        raise Http404
    return job


@router.get("/sync-jobs", response=list[SyncJobOut], summary="List IMAP migrations")
def sync_jobs_list(request, mailbox: str | None = None):
    """The organization's sync jobs (optionally one mailbox's), with the last run's result and
    progress as the mail server reports it."""
    from mailherd.hosting.selectors import sync_job_list

    return [
        sync_job_out(j) for j in sync_job_list(organization=request.organization, mailbox=mailbox)
    ]


@router.post(
    "/sync-jobs",
    response={201: SyncJobOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def sync_jobs_create(request, body: SyncJobIn):
    """Test the login on the old server (422 `source_login_failed` with a `reason` if it fails), then
    have the mail server copy its mail into the mailbox, every 20 minutes until you delete the job."""
    from mailherd.hosting.services.syncjobs import sync_job_create

    job = sync_job_create(
        actor=request.actor, organization=request.organization, source=_source(body)
    )
    return Status(201, sync_job_out(job))


@router.post(
    "/sync-jobs/bulk", response={200: list[SyncJobBulkItemOut], 403: ErrorOut, 422: ErrorOut}
)
def sync_jobs_bulk(request, body: SyncJobBulkIn):
    """Create up to 500 imports; each is tested and created or refused on its own."""
    from mailherd.core.errors import MailherdError, ValidationFailed
    from mailherd.hosting.services.syncjobs import MAX_CSV_ROWS, sync_job_create

    if len(body.jobs) > MAX_CSV_ROWS:
        raise ValidationFailed(f"Send at most {MAX_CSV_ROWS} imports at once.", field="jobs")
    results = []
    for item in body.jobs:
        try:
            job = sync_job_create(
                actor=request.actor, organization=request.organization, source=_source(item)
            )
            results.append({"mailbox": item.mailbox, "result": "created", "job": sync_job_out(job)})
        except MailherdError as exc:
            results.append({"mailbox": item.mailbox, "result": "refused", **exc.as_dict()})
    return results


@router.get("/sync-jobs/{job_id}", response={200: SyncJobOut, 404: ErrorOut})
def sync_jobs_get(request, job_id: int):
    """One import with its progress and the last run's result, fresh from the mail server."""
    from mailherd.hosting.services.syncjobs import sync_job_refresh

    return sync_job_out(sync_job_refresh(job=_job_or_404(request, job_id)))


@router.post("/sync-jobs/{job_id}/stop", response={200: SyncJobOut, 404: ErrorOut, 409: ErrorOut}, summary="Pause an IMAP migration")
def sync_jobs_stop(request, job_id: int):
    """The job stops running until it is started again; mail already copied stays."""
    from mailherd.hosting.services.syncjobs import sync_job_set_active

    job = sync_job_set_active(
        actor=request.actor, organization=request.organization, job_id=job_id, active=False
    )
    return sync_job_out(job)


@router.post("/sync-jobs/{job_id}/start", response={200: SyncJobOut, 404: ErrorOut, 409: ErrorOut}, summary="Resume an IMAP migration")
def sync_jobs_start(request, job_id: int):
    """The job runs again at its interval."""
    from mailherd.hosting.services.syncjobs import sync_job_set_active

    job = sync_job_set_active(
        actor=request.actor, organization=request.organization, job_id=job_id, active=True
    )
    return sync_job_out(job)


@router.delete("/sync-jobs/{job_id}", response={204: None, 404: ErrorOut, 409: ErrorOut})
def sync_jobs_delete(request, job_id: int):
    """Stop the import and forget the old password."""
    from mailherd.hosting.services.syncjobs import sync_job_delete

    sync_job_delete(actor=request.actor, organization=request.organization, job_id=job_id)
    return Status(204, None)


# -- alias domains -----------------------------------------------------------------------------


class AliasDomainIn(Schema):
    name: str = Field(..., description="The alias domain, e.g. example.net")
    target: str = Field(..., description="One of your verified domains, e.g. example.com")


def _alias_domain_out(domain) -> dict:
    from mailherd.hosting.api import domain_out

    return {**domain_out(domain), "target": domain.alias_of.name}


@router.post(
    "/alias-domains",
    response={201: dict, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def alias_domains_create(request, body: AliasDomainIn):
    """Every address of `target` also receives at `name`, once `name` is verified by its TXT record
    (`POST /domains/{name}/verify`). Counts against the plan's domains."""
    from mailherd.hosting.services.aliasdomains import alias_domain_add

    domain = alias_domain_add(
        actor=request.actor, organization=request.organization, name=body.name, target=body.target
    )
    return Status(201, _alias_domain_out(domain))


@router.get("/alias-domains", response={200: list[dict]}, summary="List alias domains")
def alias_domains_list(request):
    """Domains whose every address also receives at another domain of the organization."""
    from mailherd.hosting.services.aliasdomains import alias_domain_list

    return [_alias_domain_out(d) for d in alias_domain_list(organization=request.organization)]


@router.get("/alias-domains/{name}", response={200: dict, 404: ErrorOut}, summary="Get an alias domain")
def alias_domains_get(request, name: str):
    """The alias domain, its target, its verification record and its own DNS records."""
    from mailherd.core.errors import NotFound
    from mailherd.hosting.services.aliasdomains import alias_domain_get

    domain = alias_domain_get(organization=request.organization, name=name)
    if domain is None:
        raise NotFound("No such alias domain.")
    return _alias_domain_out(domain)


@router.delete("/alias-domains/{name}", response={204: None, 404: ErrorOut, 422: ErrorOut}, summary="Remove an alias domain")
def alias_domains_delete(request, name: str):
    """Mail to its addresses is refused from then on; the target domain and its mail are untouched."""
    from mailherd.core.errors import NotFound
    from mailherd.hosting import services
    from mailherd.hosting.services.aliasdomains import alias_domain_get

    domain = alias_domain_get(organization=request.organization, name=name)
    if domain is None:
        raise NotFound("No such alias domain.")
    services.domain_delete(
        actor=request.actor, organization=request.organization, name=domain.name, confirm=domain.name
    )
    return Status(204, None)


# -- a domain's allow and block lists ------------------------------------------------------------


class PolicyIn(Schema):
    list: str = Field(..., description='"allow" (always accept) or "block" (always refuse)')
    sender: str = Field(..., description="An address, a domain, or a pattern with * (*@example.com)")


class PolicyOut(Schema):
    id: int
    list: str
    sender: str
    status: str = Field(..., description='"pending" until the mail server has it, then "active"')


@router.get("/domains/{name}/policy", response={200: list[PolicyOut], 404: ErrorOut}, summary="The domain's allow and block lists")
def domain_policy_list(request, name: str):
    """Senders (addresses or `*@domain`) always accepted or always refused for the domain's
    mailboxes."""
    from mailherd.core.errors import NotFound
    from mailherd.hosting.models import Domain
    from mailherd.hosting.services import policies

    if not Domain.objects.filter(organization=request.organization, name=name.lower()).exists():
        raise NotFound("No such domain.")
    return [policies.policy_out(e) for e in policies.policy_list(organization=request.organization, name=name.lower())]


@router.post(
    "/domains/{name}/policy",
    response={201: PolicyOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, summary="Allow or block a sender")
def domain_policy_add(request, name: str, body: PolicyIn):
    """Adds the sender to the allow or the block list (a sender can be on one of them only; at most
    200 entries per domain)."""
    from mailherd.hosting.services import policies

    entry = policies.domain_policy_add(
        actor=request.actor,
        organization=request.organization,
        name=name,
        list_name=body.list,
        sender=body.sender,
    )
    return Status(201, policies.policy_out(entry))


@router.delete("/domains/{name}/policy/{entry_id}", response={204: None, 404: ErrorOut, 409: ErrorOut}, summary="Remove a sender from a list")
def domain_policy_delete(request, name: str, entry_id: int):
    """The sender is filtered like any other again."""
    from mailherd.hosting.services import policies

    policies.domain_policy_delete(
        actor=request.actor, organization=request.organization, name=name, entry_id=entry_id
    )
    return Status(204, None)
