"""The `mailherd` console script: the project's manage.py."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailherd.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(argv if argv is not None else sys.argv)
    except ImproperlyConfigured as exc:
        # A malformed environment variable: say what is wrong, without a traceback.
        print(f"mailherd: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2)
