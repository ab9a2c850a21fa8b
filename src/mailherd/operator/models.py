"""Operator-wide settings: white-label branding and global feature switches.

Both are edited in the back office and read through cached selectors
(`mailherd.operator.selectors.branding_get`, `feature_enabled`), so a change
takes effect without a deploy.
"""

from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.text import slugify

# The software's own name: shown until the operator brands it, never published in customers' DNS.
UNBRANDED_PRODUCT_NAME = "Mailherd"
NEUTRAL_VERIFICATION_WORD = "domain"

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #2456d6.")


class Branding(models.Model):
    """The one branding row (pk=1): what customers see instead of "Mailherd"."""

    product_name = models.CharField(max_length=60, default=UNBRANDED_PRODUCT_NAME)
    tagline = models.CharField(max_length=120, blank=True, default="Email hosting for teams")
    logo = models.BinaryField(blank=True, null=True, editable=False)
    logo_content_type = models.CharField(max_length=50, blank=True, editable=False)
    logo_url = models.CharField(
        max_length=500,
        blank=True,
        help_text="Or an absolute URL of the logo image (used when no logo is uploaded).",
    )
    primary_color = models.CharField(max_length=7, default="#2456d6", validators=[hex_colour])
    primary_dark_color = models.CharField(
        max_length=7,
        default="#1a3fa0",
        validators=[hex_colour],
        help_text="Hover and active shade of the primary colour.",
    )
    support_email = models.EmailField(blank=True)
    support_url = models.URLField(blank=True)
    terms_url = models.URLField(blank=True)
    privacy_url = models.URLField(blank=True)
    imprint_url = models.URLField(blank=True, help_text="Legal notice / imprint")
    email_from_name = models.CharField(
        max_length=100, blank=True, help_text="Sender name of every email (default: product name)"
    )
    email_from_address = models.EmailField(
        blank=True, help_text="Sender address of every email (default: MAILHERD_FROM_EMAIL)"
    )
    portal_url = models.URLField(
        blank=True, help_text="Public address of the portal (default: MAILHERD_SITE_URL)"
    )
    webmail_url = models.URLField(blank=True, help_text="Webmail address shown to customers")
    imap_hostname = models.CharField(max_length=255, blank=True)
    smtp_hostname = models.CharField(max_length=255, blank=True)
    verification_word = models.CharField(
        max_length=30,
        blank=True,
        validators=[
            RegexValidator(
                r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
                "Lower-case letters, digits and inner hyphens only, e.g. nimbus.",
            )
        ],
        help_text=(
            "Word in the DNS record customers publish to prove they own a domain "
            "(_WORD-verify.example.com, WORD-verify=…). Default: from the product name, or "
            '"domain". Domains added before a change keep their record.'
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "branding"
        verbose_name_plural = "branding"

    def __str__(self) -> str:
        return f"Branding: {self.product_name}"

    @property
    def email_from(self) -> str:
        """The From header of every email, e.g. `Acme Mail <no-reply@acme.example>`."""
        address = self.email_from_address or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
        return formataddr((self.email_from_name or self.product_name, address))

    @property
    def dns_verification_word(self) -> str:
        """The word of the ownership TXT record: chosen, else from a custom product name, else neutral."""
        if self.verification_word:
            return self.verification_word
        if self.product_name.strip().lower() != UNBRANDED_PRODUCT_NAME.lower():
            word = slugify(self.product_name)[:30].strip("-")
            if word and word.isascii():
                return word
        return NEUTRAL_VERIFICATION_WORD

    @property
    def site_url(self) -> str:
        return (self.portal_url or settings.SITE_URL).rstrip("/")

    @property
    def logo_src(self) -> str:
        """URL of the logo image ("" when there is none: templates show the name only)."""
        if self.logo:
            version = int(self.updated_at.timestamp()) if self.updated_at else 0
            try:
                return reverse("operator_portal:branding_logo") + f"?v={version}"
            except NoReverseMatch:  # the public URLs are not included (yet)
                pass
        return self.logo_url

    @property
    def legal_links(self) -> list[tuple[str, str]]:
        links = [
            ("Terms", self.terms_url),
            ("Privacy", self.privacy_url),
            ("Legal notice", self.imprint_url),
            ("Support", self.support_url),
        ]
        return [(label, url) for label, url in links if url]


class FeatureSwitch(models.Model):
    """A global on/off switch. No row means the feature's default (see `selectors.SWITCHES`)."""

    name = models.SlugField(max_length=50, unique=True)
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=255, blank=True, help_text="Why it is switched this way")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "feature switch"
        verbose_name_plural = "feature switches"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {'on' if self.enabled else 'off'}"


class OperatorEnrolment(models.Model):
    """A one-time link with which a new operator sets up their authenticator.

    Issued by the operator who created the account; only the hash of the token
    is kept. Without it, whoever first signs in with a new operator's password
    could enrol their own authenticator.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_enrolments"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"set-up link for {self.user}"
