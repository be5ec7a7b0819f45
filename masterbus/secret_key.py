"""The installation's own secret key when ``SECRET_KEY`` is not in the environment.

Outside production mode nothing secret is a public literal (threatmap-api.md "Hardening"):
the first start generates a random key and keeps it in ``SECRET_KEY_FILE`` (by default
``$XDG_STATE_HOME/masterbus/secret_key``, i.e. ``~/.local/state/masterbus/secret_key``:
outside the repository, readable by its owner only); every later start, and every other
process of the installation (web, workers, beat, management commands), reads the same key.
This module is imported by the settings, before Django is set up: standard library only.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

KEY_BYTES = 48  # 64 URL-safe characters


def default_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "masterbus" / "secret_key"


def installation_key(path: Path) -> str:
    """The key kept in ``path``, created (mode 0600, atomically: two processes starting at
    once agree) when the file does not exist yet."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(KEY_BYTES)
    # Written whole to a private temporary file first, then linked into place: the link
    # either creates ``path`` holding the complete key or fails because another process
    # linked its own first; a reader never sees an empty or partial file.
    fd, tmp = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read(path)  # another process created it first
    finally:
        os.unlink(tmp)
    return key


def _read(path: Path) -> str:
    key = path.read_text().strip()
    if len(key) < 50:
        raise ValueError(f"{path} holds no usable secret key (fewer than 50 characters)")
    return key
