"""IMAP migration: test the old server's login, then have Mailcow's imapsync copy the mail in.

A sync job is created only after a real login to the old server succeeded.
The old password is kept encrypted while the job exists and goes with it.
"""

import csv
import io
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import (
    Conflict,
    MailherdError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from mailherd.hosting.imapcheck import imap_login_test
from mailherd.hosting.models import Mailbox, ProvisioningOp, SyncJob, SyncStatus
from mailherd.hosting.services.limits import writable_organization_lock
from mailherd.hosting.services.outbox import enqueue
from mailherd.plans.models import Feature

SECURITY_WORDS = {
    "ssl": "ssl", "tls": "ssl", "ssl/tls": "ssl", "imaps": "ssl",
    "starttls": "starttls",
    "plain": "plain", "none": "plain", "": "ssl",
}  # fmt: skip
MAX_CSV_ROWS = 500
CSV_COLUMNS = ("mailbox", "host", "port", "security", "user", "password")


def syncjob_key(job_id: int) -> str:
    return f"syncjob:{job_id}"


@dataclass
class SourceMailbox:
    """The old mailbox to import, as the customer gave it (validated by `clean_source`)."""

    mailbox: str
    host: str
    port: object = None
    security: str = "ssl"
    user: str = ""
    password: str = ""


def _check_feature(organization) -> None:
    if not organization.plan.has_feature(Feature.IMAP_MIGRATION):
        raise PermissionDenied(
            f"Importing mail from another server is not part of the {organization.plan.name} plan."
        )


def clean_source(source: SourceMailbox) -> SourceMailbox:
    security = SECURITY_WORDS.get((source.security or "").strip().lower())
    if security is None:
        raise ValidationFailed("Security must be ssl, starttls or plain.", field="security")
    host = (source.host or "").strip().lower().rstrip(".")
    if not host or len(host) > 253 or any(c.isspace() for c in host) or "/" in host or ":" in host:
        raise ValidationFailed(
            "Give the old server's host name, e.g. imap.example.com.", field="host"
        )
    default_port = {"ssl": 993, "starttls": 143, "plain": 143}[security]
    try:
        port = int(source.port) if source.port not in (None, "") else default_port
    except (TypeError, ValueError):
        raise ValidationFailed("The port must be a number, e.g. 993.", field="port") from None
    if not 1 <= port <= 65535:
        raise ValidationFailed("The port must be between 1 and 65535.", field="port")
    user = (source.user or "").strip()
    if not user or len(user) > 255 or "\n" in user:
        raise ValidationFailed("Give the user name on the old server.", field="user")
    if not source.password or len(source.password) > 255 or "\n" in source.password:
        raise ValidationFailed("Give the password on the old server.", field="password")
    return SourceMailbox(
        mailbox=(source.mailbox or "").strip().lower(),
        host=host,
        port=port,
        security=security,
        user=user,
        password=source.password,
    )


def sync_job_create(*, actor: Actor, organization, source: SourceMailbox) -> SyncJob:
    """Test the login on the old server, then queue the sync job (Mailcow applies it)."""
    _check_feature(organization)
    source = clean_source(source)
    mailbox = Mailbox.objects.filter(organization=organization, address=source.mailbox).first()
    if mailbox is None:
        raise NotFound(f"{source.mailbox or 'That'} is not one of your mailboxes.", field="mailbox")
    if SyncJob.objects.filter(mailbox=mailbox, host=source.host, username=source.user).exists():
        raise SyncJobExists(f"{mailbox.address} already imports {source.user} from {source.host}.")
    # The real login, outside any transaction (a network call of up to 15 s).
    imap_login_test(
        host=source.host,
        port=source.port,
        security=source.security,
        user=source.user,
        password=source.password,
    )
    with transaction.atomic():
        organization = writable_organization_lock(organization_id=organization.pk)
        mailbox = Mailbox.objects.select_for_update().filter(pk=mailbox.pk).first()
        if mailbox is None:
            raise NotFound("The mailbox was deleted meanwhile.", field="mailbox")
        try:
            with transaction.atomic():
                job = SyncJob.objects.create(
                    organization=organization,
                    mailbox=mailbox,
                    host=source.host,
                    port=source.port,
                    security=source.security,
                    username=source.user,
                    password=source.password,
                )
        except IntegrityError:
            raise SyncJobExists(
                f"{mailbox.address} already imports {source.user} from {source.host}."
            ) from None
        enqueue(
            kind=ProvisioningOp.Kind.SYNCJOB_CREATE,
            object_key=syncjob_key(job.pk),
            organization=organization,
            domain_name=mailbox.domain.name,
        )
        audit_record(
            actor=actor,
            action="syncjob.create",
            organization=organization,
            obj=job,
            data={
                "mailbox": mailbox.address,
                "host": job.host,
                "port": job.port,
                "security": job.security,
                "user": job.username,
            },
        )
    return job


class SyncJobExists(Conflict):
    code = "sync_job_exists"


@dataclass
class CsvOutcome:
    line: int
    mailbox: str
    job: SyncJob | None = None
    error: MailherdError | None = None


def sync_job_create_from_csv(*, actor: Actor, organization, text: str) -> list[CsvOutcome]:
    """One job per row (`mailbox,host,port,security,user,password`, header optional); each row is
    tested and created or refused on its own."""
    _check_feature(organization)
    rows = list(csv.reader(io.StringIO(text)))
    if rows and [c.strip().lower() for c in rows[0]][:2] == ["mailbox", "host"]:
        rows = rows[1:]
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) > MAX_CSV_ROWS:
        raise ValidationFailed(f"Send at most {MAX_CSV_ROWS} rows at once.", field="file")
    outcomes = []
    for number, row in enumerate(rows, start=1):
        cells = [*row, *[""] * len(CSV_COLUMNS)][: len(CSV_COLUMNS)]
        source = SourceMailbox(*cells)
        outcome = CsvOutcome(line=number, mailbox=source.mailbox.strip())
        try:
            outcome.job = sync_job_create(actor=actor, organization=organization, source=source)
        except MailherdError as exc:
            outcome.error = exc
        outcomes.append(outcome)
    return outcomes


def _locked_job(organization, job_id) -> tuple:
    organization = writable_organization_lock(organization_id=organization.pk)
    job = (
        SyncJob.objects.select_for_update()
        .select_related("mailbox__domain")
        .filter(organization=organization, pk=_int_or_none(job_id))
        .first()
    )
    if job is None:
        raise NotFound("No such import in this organization.")
    return organization, job


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@transaction.atomic
def sync_job_set_active(*, actor: Actor, organization, job_id, active: bool) -> SyncJob:
    """Stop (or resume) a sync job."""
    organization, job = _locked_job(organization, job_id)
    if job.active == active:
        return job
    job.active, job.sync_status = active, SyncStatus.PENDING
    job.save(update_fields=["active", "sync_status"])
    enqueue(
        kind=ProvisioningOp.Kind.SYNCJOB_UPDATE,
        object_key=syncjob_key(job.pk),
        organization=organization,
        domain_name=job.mailbox.domain.name,
    )
    audit_record(
        actor=actor,
        action="syncjob.start" if active else "syncjob.stop",
        organization=organization,
        obj=job,
    )
    return job


@transaction.atomic
def sync_job_delete(*, actor: Actor, organization, job_id) -> None:
    """Delete the job here at once (its old password with it) and on the server through the outbox."""
    organization, job = _locked_job(organization, job_id)
    enqueue(
        kind=ProvisioningOp.Kind.SYNCJOB_DELETE,
        object_key=syncjob_key(job.pk),
        organization=organization,
        domain_name=job.mailbox.domain.name,
        payload={
            "mailcow_id": job.mailcow_id,
            "mailbox": job.mailbox.address,
            "host": job.host,
            "user": job.username,
        },
    )
    audit_record(actor=actor, action="syncjob.delete", organization=organization, obj=job)
    job.delete()


def sync_job_refresh(*, job: SyncJob) -> SyncJob:
    """Read the job's progress and last run from Mailcow (one call: the mailbox's jobs with logs)."""
    from mailherd.mailcow.client import MailcowError
    from mailherd.mailcow.services import client_for

    server = job.mailbox.domain.mail_server
    if job.mailcow_id is None or server is None:
        return job
    try:
        remote = {
            j.id: j for j in client_for(server).list_sync_jobs(job.mailbox.address, with_log=True)
        }
    except MailcowError:
        return job  # shown as last known
    found = remote.get(job.mailcow_id)
    if found is None:
        return job
    job.is_running = found.is_running
    job.last_run_at = _aware(found.last_run)
    job.last_run_ok = found.success
    job.last_run_status = found.exit_status or ""
    job.last_log = found.log[-10_000:]
    SyncJob.objects.filter(pk=job.pk).update(
        is_running=job.is_running,
        last_run_at=job.last_run_at,
        last_run_ok=job.last_run_ok,
        last_run_status=job.last_run_status,
        last_log=job.last_log,
    )
    return job


def _aware(value):
    from django.utils import timezone

    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value, timezone.get_default_timezone())
