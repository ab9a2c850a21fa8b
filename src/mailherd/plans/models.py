from django.db import models


class Feature(models.TextChoices):
    """Per-plan feature flags that gate parts of the portal, API and MCP."""

    API = "api", "REST API"
    MCP = "mcp", "AI agent access (MCP)"
    CATCH_ALL = "catch_all", "Catch-all aliases"
    EXTERNAL_FORWARDING = "external_forwarding", "Forwarding to external addresses"
    MAIL_RULES = "mail_rules", "Inbound mail rules"
    DNS_AUTOSETUP = "dns_autosetup", "Automatic DNS set-up"
    IMAP_MIGRATION = "imap_migration", "IMAP migration"
    CUSTOM_RELAY = "custom_relay", "Own smarthost per domain"
    PRIORITY_SUPPORT = "priority_support", "Priority support"
    MAILCOW_ADMIN = "mailcow_admin", "Mail server admin pages for owners"


# Flags with nothing behind them yet: not offered in the plan form, never shown to customers.
# tests/operator/test_plan_feature_flags.py fails when an offered flag has no check in the code.
UNBUILT_FEATURES = frozenset({Feature.PRIORITY_SUPPORT.value})


def offered_feature_choices() -> list[tuple[str, str]]:
    return [(value, label) for value, label in Feature.choices if value not in UNBUILT_FEATURES]


RATE_FRAMES = [("s", "per second"), ("m", "per minute"), ("h", "per hour"), ("d", "per day")]


class Plan(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    price_monthly_cents = models.PositiveIntegerField(default=0)
    price_yearly_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, default="usd")
    trial_days = models.PositiveSmallIntegerField(default=0)
    max_domains = models.PositiveIntegerField()
    max_mailboxes = models.PositiveIntegerField()
    max_aliases = models.PositiveIntegerField()
    max_storage_mb = models.PositiveBigIntegerField(help_text="Sum of all mailbox quotas, MiB")
    features = models.JSONField(default=list, blank=True)
    # Default outbound rate limits (Mailcow's rl-mbox / rl-domain); 0 = none. Customers may set lower ones.
    mailbox_rate_limit = models.PositiveIntegerField(
        default=0, help_text="Messages a mailbox may send per frame; 0 = no limit"
    )
    mailbox_rate_frame = models.CharField(max_length=1, choices=RATE_FRAMES, default="h")
    domain_rate_limit = models.PositiveIntegerField(
        default=0, help_text="Messages a domain may send per frame; 0 = no limit"
    )
    domain_rate_frame = models.CharField(max_length=1, choices=RATE_FRAMES, default="h")
    # Mail rules (feature `mail_rules`): how many, and how much of a message's attachments a
    # task or note keeps.
    max_mail_rules = models.PositiveIntegerField(
        default=50, help_text="Mail rules per organization (mailbox and domain rules together)"
    )
    max_rule_attachment_mb = models.PositiveIntegerField(
        default=10, help_text="Attachments a task or note keeps per message, MiB; 0 = none"
    )
    is_public = models.BooleanField(default=True, help_text="Shown on the landing page and sign-up")
    is_retired = models.BooleanField(
        default=False, help_text="Kept for existing customers, not sold"
    )
    sort_order = models.PositiveSmallIntegerField(default=0)
    stripe_product_id = models.CharField(max_length=100, blank=True)
    stripe_price_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sort_order", "price_monthly_cents"]

    def __str__(self) -> str:
        return self.name

    def has_feature(self, feature: str) -> bool:
        return feature in self.features

    @property
    def feature_labels(self) -> list[str]:
        """What the plan includes, in words, for the landing page (built features only)."""
        return [label for value, label in offered_feature_choices() if value in self.features]

    @property
    def price_monthly(self) -> str:
        return f"{self.price_monthly_cents / 100:.2f}"

    def limit_for(self, limit_name: str) -> int:
        return getattr(self, f"max_{limit_name}")
