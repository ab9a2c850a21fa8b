"""A file cache every process of one machine shares (the embedded default's cache).

`mailherd run` serves with several web processes; rate limits and sign-in
throttles counted in a per-process memory cache let each process count on its
own (two web workers doubled every limit). This cache lives under `var/cache`
and is Django's FileBasedCache with the two operations counters need made
atomic across processes (`add` and `incr`, under an exclusive file lock), and
culling that drops expired entries before any live one. With `REDIS_URL` set,
Redis is the cache instead (its `add` and `incr` are atomic by themselves).
"""

import fcntl
import os
import pickle
import tempfile
import time
import zlib
from contextlib import contextmanager

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.files.move import file_move_safe


class SharedFileCache(FileBasedCache):
    @contextmanager
    def _locked(self):
        self._createdir()
        # Not named *.djcache: the lock file is never listed, culled or cleared.
        with open(os.path.join(self._dir, "counters.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        with self._locked():
            return super().add(key, value, timeout, version)

    def incr(self, key, delta=1, version=None):
        """Add `delta` to a stored number, keeping its expiry; ValueError when there is none."""
        fname = self._key_to_file(key, version)
        with self._locked():
            found = self._read(fname)
            if found is None:
                raise ValueError(f"Key '{key}' not found")
            expiry, value = found
            self._write(fname, expiry, value + delta)
        return value + delta

    def incr_or_add(self, key, timeout, version=None) -> int:
        """One more for a counter, created at 1 (expiring after `timeout` s) when absent: one lock."""
        fname = self._key_to_file(key, version)
        with self._locked():
            found = self._read(fname)
            expiry, value = found if found is not None else (self.get_backend_timeout(timeout), 0)
            self._write(fname, expiry, value + 1)
        return value + 1

    @staticmethod
    def _read(fname):
        """(expiry, value) of a live entry, or None."""
        try:
            with open(fname, "rb") as f:
                expiry = pickle.load(f)  # noqa: S301 - our own files, as FileBasedCache reads them
                if expiry is not None and expiry < time.time():
                    return None
                return expiry, pickle.loads(zlib.decompress(f.read()))  # noqa: S301
        except (FileNotFoundError, EOFError):
            return None

    def _write(self, fname, expiry, value) -> None:
        fd, tmp_path = tempfile.mkstemp(dir=self._dir)
        try:
            with open(fd, "wb") as f:
                f.write(pickle.dumps(expiry, self.pickle_protocol))
                f.write(zlib.compress(pickle.dumps(value, self.pickle_protocol)))
            file_move_safe(tmp_path, fname, allow_overwrite=True)
        finally:
            if os.path.exists(tmp_path):
                os.remove(tmp_path)

    def _cull(self):
        filelist = self._list_cache_files()
        if len(filelist) < self._max_entries:
            return
        for fname in filelist:  # expired entries go first (reading one removes it)
            try:
                with open(fname, "rb") as f:
                    self._is_expired(f)
            except FileNotFoundError:
                pass
        super()._cull()
