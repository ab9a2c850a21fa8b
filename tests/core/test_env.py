import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from mailherd.core import env


def test_absent_database_url_means_sqlite_under_var(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = env.env_database("DATABASE_URL", tmp_path / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "db.sqlite3")
    assert config["CONN_MAX_AGE"] > 0  # kept between requests: opening one per request cost ~1 ms


def test_postgres_database_url_is_parsed(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://mh:secret@127.0.0.1:5432/mailherd")
    config = env.env_database("DATABASE_URL", tmp_path / "x")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["HOST"], config["PORT"]) == ("mailherd", "127.0.0.1", 5432)


@pytest.mark.parametrize("value", ["mysql://x/y", "not a url", "postgres://127.0.0.1:5432/", "postgres://h:notaport/db"])
def test_malformed_database_url_is_refused(monkeypatch, tmp_path, value):
    monkeypatch.setenv("DATABASE_URL", value)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env.env_database("DATABASE_URL", tmp_path / "x")


@pytest.mark.parametrize("value,expected", [("true", True), ("False", False), ("1", True), ("off", False)])
def test_env_bool_reads_booleans(monkeypatch, value, expected):
    monkeypatch.setenv("X_FLAG", value)
    assert env.env_bool("X_FLAG", not expected) is expected


def test_env_bool_rejects_anything_else(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe' is not a boolean"):
        env.env_bool("X_FLAG", False)


def test_env_secret_reads_file_variant(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.delenv("X_SECRET", raising=False)
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env.env_secret("X_SECRET") == "s3cret"


def test_email_url_selects_smtp(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp://user:pw@127.0.0.1:2525")
    config = env.env_email("EMAIL_URL")
    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (config["EMAIL_HOST"], config["EMAIL_PORT"], config["EMAIL_HOST_USER"]) == ("127.0.0.1", 2525, "user")


def test_malformed_email_url_is_refused(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "carrier-pigeon://coop")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        env.env_email("EMAIL_URL")


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = env.load_or_create_secret(tmp_path / "secret_key")
    assert len(first) == 64
    assert env.load_or_create_secret(tmp_path / "secret_key") == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_cli_stops_with_a_clear_message_on_a_malformed_variable(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mailherd", "check"],
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres//oops", "MAILHERD_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "configuration error: DATABASE_URL is malformed" in result.stderr
    assert "Traceback" not in result.stderr
