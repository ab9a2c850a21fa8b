"""Named constants of the Mailcow client: timeouts, pool limits, retry policy.

Every number that shapes how the client talks to Mailcow lives here so that a
reader can see the whole policy at once (STYLE.md item 8).
"""

from __future__ import annotations

# URL prefix of Mailcow's JSON API (nginx rewrites it to json_api.php).
API_PREFIX = "/api/v1"

# Header that carries the key. Mailcow strips every character outside
# [A-Za-z0-9-] before the lookup, so keys are restricted to that alphabet.
API_KEY_HEADER = "X-API-Key"
API_KEY_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")

USER_AGENT = "mailherd-mailcow-client/1"

# Timeouts in seconds. Connect is short: an unreachable server should fail
# fast so the outbox can retry later. Read is long enough for add/domain,
# which generates a 2048-bit DKIM key on the server (~300 ms in the lab) and
# for add/mailbox (bcrypt, ~100 ms), with a wide margin for a loaded server.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
WRITE_TIMEOUT = 30.0
POOL_TIMEOUT = 5.0

# Connection pool: one client per Mailcow server, shared by a worker's threads.
MAX_CONNECTIONS = 20
MAX_KEEPALIVE_CONNECTIONS = 10
KEEPALIVE_EXPIRY = 30.0

# Retry policy. Only safe reads are retried (and writes whose connection was
# never established). Backoff is exponential with jitter, capped.
MAX_RETRIES = 2
INITIAL_RETRY_DELAY = 0.25
MAX_RETRY_DELAY = 4.0
# A Retry-After header larger than this is capped: a worker must not sleep
# for minutes inside one call; the outbox reschedules instead.
MAX_RETRY_AFTER = 30.0

# How much of an unexpected response body an exception keeps (for debugging).
MAX_ERROR_BODY_CHARS = 500

# Units. Mailcow takes quotas in MiB and returns them in bytes.
MIB = 1024 * 1024
# Largest quota the client accepts, in MiB (1 PiB): far above any real mailbox,
# small enough that Mailcow's bigint byte columns never overflow.
MAX_QUOTA_MIB = 1024 * 1024 * 1024
# Largest count limit (mailboxes/aliases per domain) the client accepts.
MAX_COUNT_LIMIT = 1_000_000_000

# Rate-limit frames Mailcow accepts (seconds, minutes, hours, days).
RATE_LIMIT_FRAMES = ("s", "m", "h", "d")
# DKIM key sizes the client accepts (Mailcow itself only checks "numeric").
DKIM_KEY_SIZES = (1024, 2048, 3072, 4096)
DEFAULT_DKIM_SELECTOR = "dkim"
DEFAULT_DKIM_KEY_SIZE = 2048
