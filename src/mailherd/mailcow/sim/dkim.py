"""Real RSA keys for the simulator's DKIM, generated once and reused.

Mailcow generates a 2048-bit key on every add/domain (~280 ms in the lab);
doing that per request would cap the simulator at a few domains per second.
The pool generates ``POOL_SIZE`` real keys per size on first use (or
``warm()`` at start-up, in the background) and hands them out round-robin:
keys repeat across domains, which no test of Mailherd can observe except by
comparing public keys.
"""

from __future__ import annotations

import base64
import itertools
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

POOL_SIZE = 4


@dataclass(frozen=True)
class KeyPair:
    """Base64 DER SubjectPublicKeyInfo (what Mailcow calls ``pubkey``) and PEM."""

    public_b64: str
    private_pem: str
    bits: int


def _generate(bits: int) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")
    return KeyPair(base64.b64encode(public_der).decode("ascii"), private_pem, bits)


class KeyPool:
    """Thread-safe round-robin pool of RSA key pairs per key size."""

    def __init__(self, size: int = POOL_SIZE) -> None:
        self._size = size
        self._keys: dict[int, list[KeyPair]] = {}
        self._cycle: dict[int, itertools.cycle[KeyPair]] = {}
        self._lock = threading.Lock()

    def get(self, bits: int) -> KeyPair:
        """Return a key of ``bits`` bits (generating one while the pool fills)."""
        with self._lock:
            keys = self._keys.setdefault(bits, [])
            if len(keys) < self._size:
                keys.append(_generate(bits))
                if len(keys) == self._size:
                    self._cycle[bits] = itertools.cycle(keys)
                return keys[-1]
            return next(self._cycle[bits])

    def warm(self, bits: int = 2048) -> threading.Thread:
        """Fill the pool for ``bits`` in a daemon thread; return the thread."""

        def fill() -> None:
            for _ in range(self._size):
                with self._lock:
                    if len(self._keys.get(bits, [])) >= self._size:
                        return
                self.get(bits)

        thread = threading.Thread(target=fill, name=f"dkim-pool-{bits}", daemon=True)
        thread.start()
        return thread


# One pool per process: keys are expensive, and simulators in one test
# session (reset between tests) can share them.
SHARED_POOL = KeyPool()
