"""Browser fixtures live in tests/support/browser.py; `screenshot` is re-exported for the tests."""

from tests.support.browser import DESKTOP, PHONE, SCREENSHOTS, screenshot

__all__ = ["DESKTOP", "PHONE", "SCREENSHOTS", "screenshot"]
