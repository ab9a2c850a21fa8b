"""Address rules for customers' input: one place, shared with the Mailcow client's own checks."""

import idna

from mailherd.core.errors import InvalidAddress, ValidationFailed
from mailherd.mailcow.client import validation as mailcow_rules
from mailherd.mailcow.client.errors import MailcowValidationError

PASSWORD_MIN = 10
PASSWORD_MAX = 128


def to_unicode(name: str) -> str:
    """Show a punycode domain the way people write it (xn--bcher-kva.example → bücher.example)."""
    try:
        return idna.decode(name)
    except idna.IDNAError:
        return name


def clean_domain_name(value: str) -> str:
    """Return the ASCII (punycode) lower-case name, or raise InvalidAddress."""
    raw = (value or "").strip().rstrip(".")
    try:
        name = mailcow_rules.normalize_domain(raw, field="name")
    except MailcowValidationError as exc:
        raise InvalidAddress(
            f"{raw or 'An empty name'} is not a valid domain name: {exc.message}", field="name"
        )
    if "." not in name:
        raise InvalidAddress(
            f"{raw} is not a valid domain name: it needs at least two labels.", field="name"
        )
    return name


def clean_local_part(value: str) -> str:
    raw = (value or "").strip()
    try:
        return mailcow_rules.normalize_local_part(raw, field="local_part")
    except MailcowValidationError as exc:
        raise InvalidAddress(
            f"{raw or 'An empty local part'} is not a valid address: {exc.message}",
            field="local_part",
        )


def split_address(value: str, *, field: str = "address") -> tuple[str, str]:
    """Split `local@domain` into (local part, punycode domain), validating both."""
    raw = (value or "").strip()
    if raw.count("@") != 1:
        raise InvalidAddress(f"{raw or 'An empty address'} is not an email address.", field=field)
    local, domain = raw.split("@")
    try:
        return clean_local_part(local), clean_domain_name(domain)
    except InvalidAddress as exc:
        raise InvalidAddress(exc.message, field=field)


def clean_alias_targets(values) -> list[str]:
    if isinstance(values, str):
        values = [part for part in values.replace(";", ",").replace("\n", ",").split(",")]
    targets = []
    for value in values or []:
        value = (value or "").strip()
        if not value:
            continue
        local, domain = split_address(value, field="goto")
        address = f"{local}@{domain}"
        if address not in targets:
            targets.append(address)
    if not targets:
        raise InvalidAddress("Give at least one target address.", field="goto")
    return targets


def check_password_policy(password: str, *, address: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise ValidationFailed(
            f"Use at least {PASSWORD_MIN} characters for the password.", field="password"
        )
    if len(password) > PASSWORD_MAX:
        raise ValidationFailed(
            f"Use at most {PASSWORD_MAX} characters for the password.", field="password"
        )
    if password.isdigit() or password.lower() in address.lower():
        raise ValidationFailed("This password is too easy to guess.", field="password")
    try:
        mailcow_rules.check_password(password)
    except MailcowValidationError as exc:
        raise ValidationFailed(exc.message, field="password")
