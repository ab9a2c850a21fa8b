"""Reads for the portal's own pages: the new customer's onboarding checklist."""

from dataclasses import dataclass

from django.urls import reverse

from mailherd.dns.selectors import dns_check_latest
from mailherd.hosting.models import Domain, Mailbox


@dataclass(frozen=True)
class OnboardingStep:
    key: str
    title: str
    done: bool
    detail: str = ""
    link: str = ""
    link_label: str = ""
    record: dict | None = None  # a DNS record to publish, shown with copy buttons


def onboarding_checklist(*, organization) -> list[OnboardingStep]:
    """From a new organization to a mail client that works, each step's state read live."""
    slug = organization.slug
    domains = list(
        Domain.objects.filter(organization=organization).order_by("-verified_at", "created_at")
    )
    verified = next((d for d in domains if d.is_verified), None)
    domain = verified or (domains[0] if domains else None)
    check = dns_check_latest(domain=verified) if verified else None
    mailbox = (
        Mailbox.objects.filter(organization=organization)
        .order_by("-messages", "created_at")
        .first()
    )
    domain_page = (
        reverse("hosting:domain_detail", args=[slug, domain.name]) if domain is not None else ""
    )
    steps = [
        OnboardingStep(
            "domain",
            "Add your domain",
            domain is not None,
            detail=f"{domain.unicode_name} added."
            if domain
            else "The domain your addresses will use, such as example.com.",
            link=reverse("hosting:domain_list", args=[slug]),
            link_label="Add a domain",
        ),
        OnboardingStep(
            "txt",
            "Publish the ownership TXT record",
            verified is not None,
            detail="At your DNS provider, add this TXT record:" if domain and not verified else "",
            link=domain_page,
            link_label="Show the record",
            record=(
                {
                    "host": domain.verification_record_name,
                    "value": domain.verification_record_value,
                }
                if domain is not None and verified is None
                else None
            ),
        ),
        OnboardingStep(
            "verified",
            "Verify the domain",
            verified is not None,
            detail=(
                f"{verified.unicode_name} is verified."
                if verified
                else (
                    f"Last check: {domain.last_verification_error}"
                    if domain is not None and domain.last_verification_error
                    else "Press “Verify now” on the domain's page once the record is published."
                )
            ),
            link=domain_page,
            link_label="Verify now",
        ),
        OnboardingStep(
            "records",
            "Publish the mail records (MX, SPF, DKIM, DMARC)",
            check is not None and check.problem_count == 0,
            detail=(
                f"Last check: {check.ok_count} OK, {check.problem_count} to fix."
                if check is not None
                else (
                    "Publish them at your DNS provider, then press “Check now” on the records page."
                    if verified
                    else "Listed on the DNS records page once the domain is verified."
                )
            ),
            link=reverse("dns:records", args=[slug, verified.name]) if verified else "",
            link_label="Show the records",
        ),
        OnboardingStep(
            "mailbox",
            "Create the first mailbox",
            mailbox is not None,
            detail=f"{mailbox.address} exists." if mailbox else "",
            link=reverse("hosting:mailbox_create", args=[slug]) if verified else "",
            link_label="New mailbox",
        ),
        OnboardingStep(
            "client",
            "Connect a mail client",
            mailbox is not None and (mailbox.messages > 0 or mailbox.quota_used_bytes > 0),
            detail=(
                "Use the connection details, or the set-up file for iPhone, iPad and Mac;"
                " Thunderbird and Outlook find the settings by themselves."
            ),
            link=reverse("hosting:mailbox_detail", args=[slug, mailbox.address]) if mailbox else "",
            link_label="Connection details and set-up file",
        ),
    ]
    return steps


def onboarding_current(steps: list[OnboardingStep]) -> str | None:
    """The key of the first step not done yet (None: all done)."""
    return next((step.key for step in steps if not step.done), None)
