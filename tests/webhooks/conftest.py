import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    """A customer's webhook receiver on 127.0.0.1: checks every signature as a customer would.

    `answers` is a list of status codes to give in turn (then 200). `received` holds the events
    whose signature verified; `refused` counts requests whose signature did not.
    """

    def __init__(self):
        self.secret: str | None = None
        self.answers: list[int] = []
        self.received: list[dict] = []
        self.headers: list[dict] = []
        self.requests = 0
        self.refused = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.requests += 1
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    try:
                        event = Webhook(receiver.secret).verify(body, dict(self.headers))
                    except (WebhookVerificationError, Exception):
                        receiver.refused += 1
                        status = 401
                    else:
                        if 200 <= status < 300:
                            receiver.received.append(event)
                            receiver.headers.append(dict(self.headers))
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"answer": status}).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    # The receiver runs on this machine: the operator allows private targets for it.
    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = True
    r = Receiver()
    yield r
    r.close()
