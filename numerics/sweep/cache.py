"""Finished tasks on disk: a ``diskcache.Cache`` (SQLite index, values pickled; a write is one SQLite
transaction, so a run killed at any point leaves either the whole entry or none of it, and several
processes may share one cache).

Why diskcache rather than joblib.Memory or a home-made store: the runner, not the function, decides what
is cached (a task computed on a Ray or SLURM worker is stored by the driver when its result arrives),
which is a key-value store's interface, not a memoising decorator's; joblib.Memory would also hash the
arguments by pickling them, while a task's key is already its content hash (numerics/sweep/tasks.py).

Location: ``--cache DIR``; else ``$PROOFS_CHECK_CACHE``; else ``$XDG_CACHE_HOME/lsa-theory-check``; else
``~/.cache/lsa-theory-check`` — with one subfolder per kind of task (``sweeps``, ``checks``).
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from numerics import validation as check

APPLICATION = "lsa-theory-check"


def default_cache_root() -> Path:
    """``$PROOFS_CHECK_CACHE``, else ``$XDG_CACHE_HOME/lsa-theory-check``, else ``~/.cache/lsa-theory-check``."""
    explicit = os.environ.get("PROOFS_CHECK_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / APPLICATION


class NoCache:
    """``--no-cache``: nothing is read or written."""

    directory = None

    def get(self, key):
        return None

    def set(self, key, value) -> None:
        pass

    def close(self) -> None:
        pass


class TaskCache:
    """Task results by content hash, in ``directory`` (created if needed)."""

    def __init__(self, directory):
        import diskcache
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # no size-based eviction: a sweep's results are small, and evicting one silently recomputes it
            self._store = diskcache.Cache(str(self.directory), eviction_policy="none")
        except OSError as error:
            raise check.ValidationError(f"parameter '--cache' (or $PROOFS_CHECK_CACHE): {str(directory)!r} is not a "
                                        f"usable cache directory ({error.strerror or error})") from None
        except sqlite3.DatabaseError as error:    # a damaged or foreign cache.db: was sqlite3's traceback
            raise check.ValidationError(f"parameter '--cache' (or $PROOFS_CHECK_CACHE): {str(directory)!r} holds "
                                        f"a damaged cache database ({error}); remove that folder to start it "
                                        f"afresh, or give another --cache") from None

    def get(self, key):
        return self._store.get(key)

    def set(self, key, value) -> None:
        self._store.set(key, value)

    def close(self) -> None:
        self._store.close()

    def __len__(self) -> int:
        return len(self._store)


def open_cache(directory, enabled: bool = True):
    """A :class:`TaskCache` at ``directory``, or :class:`NoCache` when ``enabled`` is false."""
    return TaskCache(directory) if enabled else NoCache()
