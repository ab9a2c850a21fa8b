"""The lifecycle events an organization can subscribe to (dotted names scripts depend on)."""

EVENT_TYPES: dict[str, str] = {
    "domain.verified": "A domain's ownership was verified",
    "dns.regression": "A DNS record that was right changed or disappeared",
    "mailbox.created": "A mailbox was created",
    "mailbox.updated": "A mailbox's name, quota, password or state changed",
    "mailbox.deleted": "A mailbox was deleted",
    "alias.created": "An alias was created",
    "alias.deleted": "An alias was deleted",
    "quota.nearly_full": "A mailbox uses 90% or more of its quota",
    "payment.failed": "A payment failed",
    "organization.suspended": "The organization was suspended",
    "organization.restored": "The organization was restored after a suspension",
    "sync_job.finished": "A mailbox sync job finished",
    "task.created": "A rule created a task",
    "deliverability.new_source": "DMARC reports show a new server sending as a domain",
    "deliverability.failure_rate": "DMARC reports show a sudden rise in failing messages",
    "deliverability.tls_failure": "TLS reports show failed deliveries to a domain",
}

# Sent only on request ("Send test event"), never subscribed to.
TEST_EVENT = "webhook.test"
