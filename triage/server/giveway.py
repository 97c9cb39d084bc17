"""SQLite: writers waiting for the database, made visible to a long writer between its
transactions (an import's chunks), across threads and processes.

SQLite has one write lock and no queue: a writer that finds it taken sleeps in its busy
handler (up to 100 ms at a time once it has waited a while) and tries again, so one that
commits and begins again at once always wins. A rep's push waited 17.5 s behind a
20,000-row import written in 1,000-row chunks (bench/import_stall.py). So a writer holds
a shared lock (flock) on `<database>-waiting` while it waits for the write lock, and a
long writer, between two transactions, takes that file exclusively: at once when nobody
waits, else once those waiting have their turn. Nothing else is written to the file.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POLL = 0.002  # how often a long writer looks whether those waiting have got in
MOST = 1.0  # and how long it gives way at most (writers that keep coming cannot stop it)


class Waiting:
    """The `<database>-waiting` file of one SQLite database."""

    def __init__(self, database: Path):
        self.path = Path(f"{database}-waiting")

    def _open(self) -> int:
        # one open file per waiter: flock locks belong to an open file, so threads of one
        # process that shared one would not see each other
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Around taking the write lock: others see that this writer waits."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def give_way(self) -> bool:
        """Between a long writer's transactions: return once nobody who was waiting for
        the write lock still waits (at most MOST seconds). True if anyone was waiting."""
        fd = self._open()
        try:
            deadline = time.monotonic() + MOST
            waited = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return waited
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return True
                    waited = True
                    time.sleep(POLL)
        finally:
            os.close(fd)
