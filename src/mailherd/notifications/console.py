"""The default email backend when no EMAIL_URL is set: each email as a short, visible block.

Who it is for, the subject and every link in it (a sign-up confirmation, an invitation), so
that on a busy console the link stands out. The full text is in the notification log.
"""

import re
import sys

from django.core.mail.backends.base import BaseEmailBackend

LINK = re.compile(r"https?://[^\s<>\"')]+")
RULE = "=" * 72


class EmailBackend(BaseEmailBackend):
    def __init__(self, *args, stream=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.stream = stream or sys.stdout

    def send_messages(self, email_messages):
        for message in email_messages:
            links = list(dict.fromkeys(LINK.findall(str(message.body))))
            lines = [RULE, f"EMAIL to {', '.join(message.to)}: {message.subject}"]
            lines += [f"  link: {link}" for link in links] or ["  (no links)"]
            lines.append(RULE)
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        return len(email_messages)
