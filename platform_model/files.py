"""The one way the toolkit replaces a file it owns: readers (a policy pack of a run that started
meanwhile, a resumed rollout, the node importing an image) see the old file or the new one, never a
partial one; and the one way a shared cache folder gets a single builder at a time."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomically(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """``data`` into ``path`` (parents created) with permissions ``mode``, private unless asked: a
    temporary file in the same folder, then a rename; the temporary file is removed if anything fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def one_builder_at_a_time(folder: Path) -> Iterator[None]:
    """Hold ``<folder>.lock`` exclusively: two processes filling the same cache folder (two test
    workers starting a cluster each, two checks of one program) take turns, and the second finds
    the first one's result instead of writing over it half-way."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
