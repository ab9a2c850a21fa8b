"""The `data` of lifecycle events: what a receiver needs to know about the object, no secrets."""


def mailbox_data(mailbox, **extra) -> dict:
    return {
        "address": mailbox.address,
        "domain": mailbox.domain.name,
        "name": mailbox.name,
        "quota_mb": mailbox.quota_mb,
        "active": mailbox.enabled,
        **extra,
    }


def alias_data(alias) -> dict:
    return {
        "address": alias.address,
        "domain": alias.domain.name,
        "goto": list(alias.goto),
        "active": alias.enabled,
    }


def domain_data(domain) -> dict:
    return {"name": domain.name, "unicode_name": domain.unicode_name, "status": domain.status}


def organization_data(organization, **extra) -> dict:
    return {"slug": organization.slug, "name": organization.name, **extra}
