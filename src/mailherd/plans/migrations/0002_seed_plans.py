"""Seed the three public plans. Idempotent: existing slugs are left as the operator edited them."""

from django.db import migrations

GIB = 1024

PLANS = [
    {
        "slug": "starter", "name": "Starter", "sort_order": 1,
        "description": "For a small team on one or two domains.",
        "price_monthly_cents": 900, "price_yearly_cents": 9000, "trial_days": 14,
        "max_domains": 3, "max_mailboxes": 10, "max_aliases": 30, "max_storage_mb": 10 * GIB,
        "features": ["api", "catch_all"],
    },
    {
        "slug": "business", "name": "Business", "sort_order": 2,
        "description": "For growing companies with several brands.",
        "price_monthly_cents": 4900, "price_yearly_cents": 49000, "trial_days": 14,
        "max_domains": 10, "max_mailboxes": 100, "max_aliases": 500, "max_storage_mb": 250 * GIB,
        "features": ["api", "mcp", "catch_all", "external_forwarding", "mail_rules", "dns_autosetup", "imap_migration"],
    },
    {
        "slug": "enterprise", "name": "Enterprise", "sort_order": 3,
        "description": "For organizations with many domains and strict requirements.",
        "price_monthly_cents": 19900, "price_yearly_cents": 199000, "trial_days": 0,
        "max_domains": 100, "max_mailboxes": 1000, "max_aliases": 5000, "max_storage_mb": 2048 * GIB,
        "features": [
            "api", "mcp", "catch_all", "external_forwarding", "mail_rules", "dns_autosetup",
            "imap_migration", "priority_support",
        ],
    },
]


def seed(apps, schema_editor):
    Plan = apps.get_model("plans", "Plan")
    for data in PLANS:
        Plan.objects.get_or_create(slug=data["slug"], defaults=data)


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
