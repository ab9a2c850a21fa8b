"""DKIM keys Mailherd holds, so a key lost on the server can be put back as it was.

Mailcow's `add/dkim` always generates a fresh key, which would break the DNS
record the customer published. Mailcow also has `add/dkim_import` (read from
source: data/web/inc/functions.dkim.inc.php, admin keys only), which installs
a given private key and derives the public key from it. So Mailherd generates
each domain's key itself, keeps it encrypted at rest (Domain.dkim_private_key)
and imports it; restoring is importing the same key again.
"""

import base64
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings


def dkim_key_generate() -> str:
    """A new RSA private key (PEM, PKCS#1 as Mailcow's own) of MAILHERD_DKIM_KEY_BITS bits."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=settings.MAILHERD_DKIM_KEY_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


def dkim_public_b64(private_pem: str) -> str:
    """The public key as Mailcow shows it (`pubkey`: base64 DER SubjectPublicKeyInfo)."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def dkim_txt_public_b64(txt: str) -> str:
    """The `p=` of a DKIM TXT value (quotes and the 255-character split removed)."""
    joined = re.sub(r'"\s*"', "", txt or "").replace('"', "")
    match = re.search(r"(?:^|;)\s*p=([A-Za-z0-9+/=\s]*)", joined)
    return re.sub(r"\s", "", match.group(1)) if match else ""
