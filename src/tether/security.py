"""Secrets: password hashing, API keys and webhook tokens (hashed, compared in constant time),
and encryption at rest for Salesforce tokens (Fernet, key from configuration)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

_hasher = PasswordHasher()


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
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the other process may still be writing it
            existing = path.read_text().strip()
            if existing:
                return existing
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty") from None
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
