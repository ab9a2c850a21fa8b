"""Typed readers for environment variables.

An absent variable falls back to the embedded default; a present but malformed
one raises ImproperlyConfigured so that start-up stops with a clear message.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_bool(name: str, default: bool) -> bool:
    """Return the boolean in `name`; anything but true/false/1/0/yes/no/on/off is an error."""
    value = env_str(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer")
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = env_str(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_secret(name: str) -> str | None:
    """Return `name`, or the contents of the file named by `name`_FILE (Docker secrets)."""
    value = env_str(name)
    if value is not None:
        return value
    path = env_str(f"{name}_FILE")
    if path is None:
        return None
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc.strerror}")


# SQLite as a real embedded default, with several processes (web workers, Celery workers, the
# scheduler) writing at once: WAL (readers never block the writer nor it them), writers take the
# write lock when their transaction begins (IMMEDIATE: no deadlock between two transactions that
# read, then write) and wait up to 30 s for it instead of failing with "database is locked";
# synchronous=NORMAL is safe with WAL (a power cut may lose the last commits, never corrupts).
SQLITE_BUSY_TIMEOUT_SECONDS = 30
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
}


def env_database(name: str, default_sqlite_path: Path) -> dict:
    """Parse a DATABASE_URL (postgres:// or sqlite://); absent means SQLite under var/."""
    import dj_database_url

    value = env_str(name)
    if value is None:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(default_sqlite_path),
            "OPTIONS": dict(SQLITE_OPTIONS),
            # Kept between requests, as PostgreSQL's: opening one (and its PRAGMAs) cost more
            # CPU than the rest of an authenticated API read.
            "CONN_MAX_AGE": 60,
        }
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"{name} is malformed: expected postgres://user@host:port/dbname or sqlite:///path, "
            f"got scheme {scheme or '(none)'!r}"
        )
    try:
        config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types for bad URLs
        raise ImproperlyConfigured(f"{name} is malformed: {exc}")
    if scheme != "sqlite" and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} is malformed: it names no database")
    if scheme == "sqlite":
        config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
    return config


def env_email(name: str) -> dict:
    """Parse EMAIL_URL (smtp://user:pass@host:port, smtp+tls://, console://)."""
    import dj_email_url

    value = env_str(name)
    if value is None:
        # To the console, each email as a short block with its links (console:// prints all).
        return {"EMAIL_BACKEND": "mailherd.notifications.console.EmailBackend"}
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in {"smtp", "smtps", "submission", "console", "file", "memory", "dummy"}:
        raise ImproperlyConfigured(
            f"{name} is malformed: expected smtp://host:port (or smtps://, submission://, console://)"
        )
    try:
        parsed = dj_email_url.parse(value)
    except Exception as exc:
        raise ImproperlyConfigured(f"{name} is malformed: {exc}")
    return {
        "EMAIL_BACKEND": parsed["EMAIL_BACKEND"],
        "EMAIL_HOST": parsed["EMAIL_HOST"] or "localhost",
        "EMAIL_PORT": parsed["EMAIL_PORT"] or 25,
        "EMAIL_HOST_USER": parsed["EMAIL_HOST_USER"] or "",
        "EMAIL_HOST_PASSWORD": parsed["EMAIL_HOST_PASSWORD"] or "",
        "EMAIL_USE_TLS": parsed["EMAIL_USE_TLS"],
        "EMAIL_USE_SSL": parsed["EMAIL_USE_SSL"],
        "EMAIL_TIMEOUT": 10,
    }


def load_or_create_secret(
    path: Path,
    *,
    length: int = 64,
    alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)",
) -> str:
    """Return the secret kept in `path`, creating it (mode 0600) on first start."""
    from django.utils.crypto import get_random_string

    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = get_random_string(length, alphabet)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of `mailherd run` won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def load_or_create_rsa_key(path: Path) -> str:
    """Return the PEM RSA private key kept in `path`, creating a 2048-bit one (mode 0600) on first start."""
    if path.exists():
        return path.read_text()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text()
    with os.fdopen(fd, "w") as handle:
        handle.write(pem)
    return pem
