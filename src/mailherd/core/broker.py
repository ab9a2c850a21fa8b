"""The embedded broker: kombu's filesystem transport, with messages that appear whole.

kombu writes a message by opening its final file name and then writing into it.
A worker polling the folder in between moved the still-empty file away, failed
to decode it and stopped with "Unrecoverable error: JSONDecodeError" (seen in
the provisioning benchmark under load; kombu issue #1551), and the message was
lost. Here a message is written under a name no reader looks for and renamed
into place, which POSIX makes atomic.
"""

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PARTIAL = ".part"  # readers take only names ending in "<queue>.msg"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL
        try:
            with open(partial, "wb") as message:
                message.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
