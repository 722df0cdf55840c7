"""Secrets: password hashing, API keys and webhook tokens (hashed, compared in constant time),
encryption at rest for Salesforce tokens (Fernet, key from configuration), and the data
directory's files readable by their owner only."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

_hasher = PasswordHasher()
log = logging.getLogger(__name__)

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
# What Tether keeps in its data directory; SQLite adds its companions beside a database.
DATA_FILES = ("tether.db", "secret.key", "sfemu.db", "demo-api-key")
MAIL_DIR = "mail"  # the demo's local mail server keeps its mailboxes there
CALENDAR_DIR = "calendar"  # and its calendar server its calendars
DATA_DIRS = (MAIL_DIR, CALENDAR_DIR)
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def new_secret(prefix: str) -> str:
    """A random bearer secret: a recognisable prefix and 32 random bytes."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    if not stored_hash:
        return False
    return hmac.compare_digest(hash_secret(secret), stored_hash)


class Vault:
    """Encrypts what must be read back (OAuth tokens, PKCE verifiers)."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def encrypt(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode())

    def decrypt(self, value: bytes) -> str:
        try:
            return self._fernet.decrypt(value).decode()
        except InvalidToken:
            raise ValueError("cannot decrypt: the secret key changed or the value is "
                             "corrupt") from None


def load_or_create_key(path: Path) -> str:
    """The embedded default keeps its key beside the database, readable by its owner only.
    Created exclusively with mode 0600: two processes starting together agree on one key."""
    make_private_dir(path.parent)
    key = Fernet.generate_key().decode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        tighten(path)
        for _ in range(50):  # the other process may still be writing it
            existing = path.read_text().strip()
            if existing:
                return existing
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty") from None
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def make_private_dir(path: Path) -> None:
    """A missing directory created 0700 (an existing one is left as it is: it may be shared,
    such as the directory of a database file named in TETHER_DATABASE_URL)."""
    if not path.is_dir():
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def create_private_file(path: Path) -> None:
    """The file created empty with 0600 if missing; an existing one tightened to 0600."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        tighten(path)


def tighten(path: Path, mode: int = PRIVATE_FILE) -> None:
    """Group and others lose their access to an existing file (or directory) of Tether's,
    perhaps made by an earlier version or copied in under a 022 umask."""
    try:
        current = path.stat().st_mode
    except FileNotFoundError:
        return
    if current & 0o777 & ~mode:
        try:
            path.chmod(mode)
        except PermissionError:
            log.warning("cannot restrict %s to mode %o: it belongs to another user", path, mode)


def secure_data_dir(path: Path) -> None:
    """On start: Tether's files in the data directory 0600, and the directory 0700 when it
    holds nothing else (a directory shared with other files, such as TETHER_DATA_DIR=., keeps
    its mode; each of Tether's files is private anyway)."""
    if not path.is_dir():
        return  # made 0700 by whichever first writes into it
    names = {n + c for n in DATA_FILES for c in ("", *SQLITE_COMPANIONS)}
    for name in sorted(names):
        tighten(path / name)
    for name in DATA_DIRS:
        tighten(path / name, PRIVATE_DIR)
    if all(entry.name in names or entry.name in DATA_DIRS for entry in path.iterdir()):
        tighten(path, PRIVATE_DIR)
