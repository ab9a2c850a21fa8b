"""Mailbox passwords the way Dovecot and Mailcow store them: ``{SCHEME}hash``.

Mailherd hashes a mailbox password itself (``{BLF-CRYPT}`` bcrypt, cost 10:
Mailcow's default ``MAILCOW_PASS_SCHEME``), keeps only the hash and sends only
the hash: Mailcow stores a value that starts with a known scheme as it is and
Dovecot checks logins against it (docs/mailcow.md, "Pre-hashed passwords").
So a mailbox can be re-created on the same or another server with the user's
password, and no plaintext is kept anywhere, not even while a change waits
in the outbox.

Public helpers (pure Python, no Django models; safe to call from anywhere):

- ``hash_password(plaintext)`` -> ``"{BLF-CRYPT}$2y$10$..."`` (slow on purpose:
  call it before taking any lock; ``hash_many`` runs a batch in parallel);
- ``clean_password_hash(value)`` -> the value, or ``InvalidPasswordHash`` with a
  plain message when it is not a well-formed hash of a scheme Dovecot accepts;
- ``verify_password(plaintext, stored)`` -> bool, as Dovecot would check it
  (the Mailcow simulator's logins use it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from concurrent.futures import ThreadPoolExecutor

import bcrypt

BLF_CRYPT = "BLF-CRYPT"
BCRYPT_COST = 10  # Mailcow's default; tests may lower it via MAILHERD_BCRYPT_COST
BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; Dovecot's crypt() truncates the same way
MAX_HASH_LENGTH = 512

_CRYPT64 = r"[./A-Za-z0-9]"
_B64 = r"[A-Za-z0-9+/]"
# scheme -> (pattern of the part after {SCHEME}, what it looks like, for the message)
_CRYPT_FORMS = {
    "BLF-CRYPT": (
        rf"\$2[abxy]\$(0[4-9]|[12][0-9]|3[01])\${_CRYPT64}{{53}}",
        "$2y$10$ and 53 characters",
    ),
    "SHA512-CRYPT": (
        rf"\$6\$(rounds=[0-9]{{4,9}}\$)?{_CRYPT64}{{1,16}}\${_CRYPT64}{{86}}",
        "$6$salt$ and 86 characters",
    ),
    "SHA256-CRYPT": (
        rf"\$5\$(rounds=[0-9]{{4,9}}\$)?{_CRYPT64}{{1,16}}\${_CRYPT64}{{43}}",
        "$5$salt$ and 43 characters",
    ),
    "MD5-CRYPT": (rf"\$1\${_CRYPT64}{{1,8}}\${_CRYPT64}{{22}}", "$1$salt$ and 22 characters"),
    "ARGON2I": (
        rf"\$argon2i\$v=19\$m=[0-9]+,t=[0-9]+,p=[0-9]+\${_B64}+\${_B64}+",
        "$argon2i$v=19$m=…,t=…,p=…$salt$hash",
    ),
    "ARGON2ID": (
        rf"\$argon2id\$v=19\$m=[0-9]+,t=[0-9]+,p=[0-9]+\${_B64}+\${_B64}+",
        "$argon2id$v=19$m=…,t=…,p=…$salt$hash",
    ),
}
# Salted digests: base64(digest + salt); unsalted: base64(digest).
_DIGESTS = {
    "SSHA512": ("sha512", True),
    "SSHA256": ("sha256", True),
    "SSHA": ("sha1", True),
    "SHA512": ("sha512", False),
    "SHA256": ("sha256", False),
}
REFUSED_SCHEMES = {
    "PLAIN",
    "CLEAR",
    "CLEARTEXT",
    "PLAIN-TRUNC",
    "PLAIN-MD4",
    "PLAIN-MD5",
    "CRYPT",
    "DES-CRYPT",
    "MD5",
    "LDAP-MD5",
    "SMD5",
    "SHA",
    "SHA1",
}
ACCEPTED_SCHEMES = tuple(_CRYPT_FORMS) + tuple(_DIGESTS)
_SCHEME = re.compile(r"^\{([A-Za-z0-9.-]+)\}(.*)$", re.DOTALL)


class InvalidPasswordHash(ValueError):
    """A `password_hash` Mailherd cannot pass on; the message says why in plain words."""


def bcrypt_cost() -> int:
    try:
        from django.conf import settings

        return int(getattr(settings, "MAILHERD_BCRYPT_COST", BCRYPT_COST))
    except Exception:  # noqa: BLE001 - usable without Django settings (the simulator)
        return BCRYPT_COST


def hash_password(plaintext: str, *, cost: int | None = None) -> str:
    """``{BLF-CRYPT}$2y$<cost>$...`` of the password, as Mailcow's own ``hash_password`` writes it."""
    secret = plaintext.encode("utf-8")[:BCRYPT_MAX_BYTES]
    hashed = bcrypt.hashpw(secret, bcrypt.gensalt(rounds=cost or bcrypt_cost())).decode("ascii")
    # $2b$ and PHP's $2y$ are the same algorithm; Mailcow writes $2y$.
    return "{" + BLF_CRYPT + "}$2y$" + hashed[4:]


_pool: ThreadPoolExecutor | None = None


def hash_many(plaintexts: list[str]) -> list[str]:
    """Hash a batch in parallel (bcrypt releases the GIL), in order."""
    global _pool
    if len(plaintexts) < 2:
        return [hash_password(p) for p in plaintexts]
    if _pool is None:
        _pool = ThreadPoolExecutor(
            max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="bcrypt"
        )
    cost = bcrypt_cost()
    return list(_pool.map(lambda p: hash_password(p, cost=cost), plaintexts))


def scheme_of(value: str) -> str | None:
    match = _SCHEME.match(value or "")
    return match.group(1).upper() if match else None


def clean_password_hash(value: str) -> str:
    """Return a well-formed ``{SCHEME}hash`` (scheme in upper case) or raise InvalidPasswordHash."""
    value = (value or "").strip()
    match = _SCHEME.match(value)
    schemes = ", ".join("{" + s + "}" for s in ACCEPTED_SCHEMES)
    if not match:
        raise InvalidPasswordHash(
            f"A password hash starts with its scheme, e.g. {{BLF-CRYPT}}$2y$10$…; use one of {schemes}."
        )
    scheme, body = match.group(1).upper(), match.group(2)
    if scheme in REFUSED_SCHEMES:
        raise InvalidPasswordHash(
            f"{{{scheme}}} is not accepted: it is plaintext or too weak to keep. Use one of {schemes}."
        )
    if len(value) > MAX_HASH_LENGTH or any(ord(c) < 33 or ord(c) > 126 for c in body):
        raise InvalidPasswordHash("The password hash has characters or a length no hash has.")
    if scheme in _CRYPT_FORMS:
        pattern, shape = _CRYPT_FORMS[scheme]
        if not re.fullmatch(pattern, body):
            raise InvalidPasswordHash(
                f"This is not a well-formed {{{scheme}}} hash: expected {shape}."
            )
    elif scheme in _DIGESTS:
        algorithm, salted = _DIGESTS[scheme]
        size = hashlib.new(algorithm).digest_size
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if (len(raw) <= size) if salted else (len(raw) != size):
            kind = f"base64 of the {size}-byte digest" + (" followed by the salt" if salted else "")
            raise InvalidPasswordHash(
                f"This is not a well-formed {{{scheme}}} hash: expected {kind}."
            )
    else:
        raise InvalidPasswordHash(
            f"{{{scheme}}} is not a scheme Mailherd passes on; use one of {schemes}."
        )
    return "{" + scheme + "}" + body


def verify_password(plaintext: str, stored: str) -> bool:
    """Check a login the way Dovecot does against the stored ``{SCHEME}`` value."""
    scheme = scheme_of(stored)
    if scheme is None:
        return False
    body = stored[len(scheme) + 2 :]
    secret = plaintext.encode("utf-8")
    try:
        if scheme == "BLF-CRYPT":
            return bcrypt.checkpw(secret[:BCRYPT_MAX_BYTES], ("$2b$" + body[4:]).encode("ascii"))
        if scheme in ("SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT", "ARGON2I", "ARGON2ID"):
            from passlib import hash as passlib_hash

            handler = {
                "SHA512-CRYPT": passlib_hash.sha512_crypt,
                "SHA256-CRYPT": passlib_hash.sha256_crypt,
                "MD5-CRYPT": passlib_hash.md5_crypt,
                "ARGON2I": passlib_hash.argon2,
                "ARGON2ID": passlib_hash.argon2,
            }[scheme]
            return handler.verify(plaintext, body)
        if scheme in _DIGESTS:
            algorithm, salted = _DIGESTS[scheme]
            raw = base64.b64decode(body)
            size = hashlib.new(algorithm).digest_size
            digest, salt = raw[:size], raw[size:] if salted else b""
            return hmac.compare_digest(hashlib.new(algorithm, secret + salt).digest(), digest)
        if scheme in ("PLAIN", "CLEAR", "CLEARTEXT"):
            return hmac.compare_digest(secret, body.encode("utf-8"))
    except (ValueError, TypeError, binascii.Error):
        return False
    return False
