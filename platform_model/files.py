"""The one way the toolkit replaces a file it owns: readers (a policy pack of a run that started
meanwhile, a resumed rollout, the node importing an image) see the old file or the new one, never a
partial one."""

from __future__ import annotations

import os
import tempfile
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
