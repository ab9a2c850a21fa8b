"""Reads of hosted objects (domains, mailboxes, aliases)."""


def hosting_usage_counts(*, organization) -> dict[str, int]:
    return {}
