"""Address rules for customers' input: one place, shared with the Mailcow client's own checks."""

import functools

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


# Characters that IDNA mapping would silently drop (UTS #46 "ignored") or that nobody sees:
# what the customer typed must not differ from what is registered without them knowing.
_INVISIBLE_NAMES = {
    "\u00ad": "a soft hyphen",
    "\u200b": "a zero-width space",
    "\u200c": "a zero-width non-joiner",
    "\u200d": "a zero-width joiner",
    "\u2060": "a word joiner",
    "\ufeff": "a zero-width no-break space",
    "\u180e": "a Mongolian vowel separator",
    "\u034f": "a combining grapheme joiner",
}
# Scripts that write words with ZWNJ/ZWJ (Persian, Indic): IDNA 2008 allows them there (CONTEXTJ).
_JOINER_SCRIPTS = {
    "ARABIC", "DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI", "ORIYA", "TAMIL", "TELUGU",
    "KANNADA", "MALAYALAM", "SINHALA", "SYRIAC", "MONGOLIAN",
}  # fmt: skip


def _invisible_problem(raw: str) -> str | None:
    import unicodedata

    from confusable_homoglyphs import categories

    scripts = {categories.alias(c) for c in raw}
    for index, character in enumerate(raw):
        if character in "\u200c\u200d" and scripts & _JOINER_SCRIPTS:
            continue  # a joiner in a script that uses it: the IDNA rules decide
        if character in _INVISIBLE_NAMES or unicodedata.category(character) in ("Cf", "Cc"):
            what = _INVISIBLE_NAMES.get(character, "an invisible character")
            before = raw[:index].strip() or "the start"
            where = f"after “{before[-12:]}”" if before != "the start" else "at the start"
            return (
                f"The name you typed contains {what} {where}, which would silently disappear."
                " Type the name again without it."
            )
    return None


@functools.lru_cache(maxsize=4096)  # a bulk create checks one domain hundreds of times (IDNA is slow)
def clean_domain_name(value: str) -> str:
    """Return the ASCII (punycode) lower-case name, or raise InvalidAddress."""
    raw = (value or "").strip().rstrip(".")
    invisible = _invisible_problem(raw)
    if invisible:
        raise InvalidAddress(invisible, field="name")
    try:
        name = mailcow_rules.normalize_domain(raw, field="name")
    except MailcowValidationError:
        raise InvalidAddress(_domain_problem(raw), field="name")
    if "." not in name:
        raise InvalidAddress(_domain_problem(raw), field="name")
    return name


_ALLOWED_SCRIPT_MIXES = (  # Latin with the scripts written together in Japanese, Chinese, Korean
    {"LATIN", "HAN", "HIRAGANA", "KATAKANA"},
    {"LATIN", "HAN", "BOPOMOFO"},
    {"LATIN", "HAN", "HANGUL"},
)
_LATIN_LOOKING = set("abcdefghijklmnopqrstuvwxyz0123456789")


def _scripts(label: str) -> set[str]:
    from confusable_homoglyphs import categories

    return {categories.alias(c) for c in label} - {"COMMON", "INHERITED"}


def _looks_latin(label: str) -> bool:
    """Every letter of this (non-Latin) label looks like a Latin letter or digit (UTS #39)."""
    from confusable_homoglyphs import confusables

    letters = {c for c in label if _scripts(c)}
    found = confusables.is_confusable(label, greedy=True, preferred_aliases=["latin"]) or []
    alike = {
        item["character"]
        for item in found
        if any(glyph["c"] in _LATIN_LOOKING for glyph in item["homoglyphs"])
    }
    return bool(letters) and letters <= alike


def lookalike_problem(ascii_name: str) -> str | None:
    """Why a name could pass for another one (UTS #39, as browsers judge it), or None.

    Refused: a label mixing alphabets (`аpple` with a Cyrillic а; Latin with Chinese, Japanese or
    Korean letters is fine), and a label whose letters, all in one other alphabet, look exactly
    like Latin ones (`аррӏе`) unless the ending is in that alphabet too (`сосо.рф`).
    """
    unicode_name = to_unicode(ascii_name)
    labels = unicode_name.split(".")
    tld_scripts = _scripts(labels[-1])
    for label in labels:
        scripts = _scripts(label)
        if len(scripts) > 1 and not any(scripts <= mix for mix in _ALLOWED_SCRIPT_MIXES):
            names = " and ".join(sorted(s.title() for s in scripts))
            return (
                f"{unicode_name} mixes letters of different alphabets ({names}) in “{label}”,"
                " as lookalike names do; browsers show such names as"
                f" {ascii_name}. Type the name in one alphabet."
            )
        if scripts and scripts != {"LATIN"} and scripts != tld_scripts and _looks_latin(label):
            script = next(iter(scripts)).title()
            return (
                f"“{label}” is written in {script} letters that look exactly like Latin ones, so"
                f" {unicode_name} could pass for another name; browsers show it as {ascii_name}."
                " Check what you typed."
            )
    return None


def clean_new_domain_name(value: str) -> str:
    """`clean_domain_name`, and refuse lookalike names: for names a customer claims."""
    name = clean_domain_name(value)
    problem = lookalike_problem(name)
    if problem:
        raise InvalidAddress(problem, field="name")
    return name


def _domain_problem(raw: str) -> str:
    """Say in plain words why `raw` is not a domain name (the rule itself is the client's)."""
    if not raw:
        return "Enter a domain name, such as example.com."
    if "@" in raw:
        return "Enter only the domain: the part after the @, such as example.com."
    if any(character.isspace() for character in raw):
        return "A domain name cannot contain spaces."
    if any(character in raw for character in ",;/\\:"):
        return "A domain name can only contain letters, digits, hyphens and dots."
    labels = raw.split(".")
    if len(labels) < 2:
        return "Enter the whole domain name with its ending, such as example.com."
    if any(not label for label in labels):
        return "A domain name cannot have two dots in a row or start with a dot."
    if len(raw) > 253:
        return "A domain name can be at most 253 characters long."
    if any(len(label) > 63 for label in labels):
        return "Each part of a domain name between dots can be at most 63 characters long."
    if any(label.startswith("-") or label.endswith("-") for label in labels):
        return "A part of a domain name cannot start or end with a hyphen."
    if labels[-1].isdigit():
        return "This looks like an IP address; enter a domain name such as example.com."
    return "This is not a valid domain name: use letters, digits and hyphens, such as example.com."


def clean_local_part(value: str) -> str:
    raw = (value or "").strip()
    try:
        return mailcow_rules.normalize_local_part(raw, field="local_part")
    except MailcowValidationError:
        raise InvalidAddress(_local_part_problem(raw), field="local_part")


def _local_part_problem(raw: str) -> str:
    if not raw:
        return "Enter the part of the address before the @."
    if len(raw) > 64:
        return "The part before the @ can be at most 64 characters long."
    if any(character.isspace() for character in raw):
        return "An address cannot contain spaces."
    if raw.startswith(".") or raw.endswith(".") or ".." in raw:
        return "The part before the @ cannot start or end with a dot or have two dots in a row."
    return "The part before the @ can only contain letters, digits and . _ - + characters."


def split_address(value: str, *, field: str = "address") -> tuple[str, str]:
    """Split `local@domain` into (local part, punycode domain), validating both."""
    raw = (value or "").strip()
    if not raw:
        raise InvalidAddress("Enter an email address, such as name@example.com.", field=field)
    if raw.count("@") != 1:
        raise InvalidAddress(
            f"{raw} is not an email address: it needs one @, such as name@example.com.",
            field=field,
        )
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
