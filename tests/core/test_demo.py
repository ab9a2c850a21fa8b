"""`mailherd demo` keeps its passwords per var/ and prints the logins where they stand out."""

import io
import re

import pytest

from mailherd.core.management.commands.demo import DEMO_CUSTOMER, DEMO_OPERATOR
from mailherd.core.management.commands.demo import Command as DemoCommand

pytestmark = pytest.mark.django_db


class _NoSimulator(DemoCommand):
    def prepare_mailcow(self, options) -> dict:
        return {}


def _start(var_dir, settings) -> dict[str, str]:
    settings.VAR_DIR = var_dir
    out = io.StringIO()
    command = _NoSimulator(stdout=out)
    command.prepare({"host": "127.0.0.1", "port": 8000})
    printed = out.getvalue()
    return {
        "operator": re.search(rf"{re.escape(DEMO_OPERATOR)} / (\S+)", printed).group(1),
        "customer": re.search(rf"{re.escape(DEMO_CUSTOMER)} / (\S+)", printed).group(1),
        "output": printed,
    }


def test_demo_passwords_stay_the_same_for_the_same_var_dir(tmp_path, settings, client):
    first = _start(tmp_path / "var", settings)
    second = _start(tmp_path / "var", settings)
    assert (first["operator"], first["customer"]) == (second["operator"], second["customer"])
    assert client.login(email=DEMO_CUSTOMER, password=second["customer"])
    assert oct((tmp_path / "var" / "demo-customer-password").stat().st_mode)[-3:] == "600"
    # another var/ is another demo
    other = _start(tmp_path / "other", settings)
    assert other["customer"] != first["customer"]


def test_the_logins_stand_out(tmp_path, settings):
    printed = _start(tmp_path / "var", settings)["output"]
    assert printed.count("=" * 72) == 2
    assert "Demo ready. Sign in at http://127.0.0.1:8000/accounts/login/" in printed


def test_console_emails_are_short_blocks_with_their_links():
    from django.core.mail import EmailMessage

    from mailherd.notifications.console import EmailBackend

    stream = io.StringIO()
    message = EmailMessage(
        "Confirm your email",
        "Hello,\nopen https://portal.test/accounts/confirm-email/abc/ to confirm.\n",
        to=["a@b.test"],
    )
    EmailBackend(stream=stream).send_messages([message])
    assert stream.getvalue().splitlines() == [
        "=" * 72,
        "EMAIL to a@b.test: Confirm your email",
        "  link: https://portal.test/accounts/confirm-email/abc/",
        "=" * 72,
    ]
