"""Run localstripe on loopback only, in memory only: `python localstripe_server.py PORT`.

localstripe's own entry point binds every interface and pickles its store to
/tmp/localstripe.pickle on every write; this launcher does neither
(see shared/reference/test-services.md, section 1).
"""

import logging
import sys

import localstripe.resources as resources
from aiohttp import web
from localstripe.server import app

resources.Store.dump_to_disk = lambda self: None  # in-memory only, no /tmp pickle

if __name__ == "__main__":
    log = logging.getLogger("aiohttp.access")
    log.setLevel(logging.INFO)
    log.addHandler(logging.StreamHandler())
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8420
    web.run_app(app, host="127.0.0.1", port=port, access_log=log, print=None)
