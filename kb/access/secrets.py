"""Secrets at rest: provider keys and webhook secrets are stored Fernet-encrypted.

The encryption key comes from the environment (``KB_SECURITY__ENCRYPTION_KEYS``: one or more
comma-separated Fernet keys, newest first, so keys can be rotated with ``MultiFernet``). When none
is configured, a key is generated once into ``DATA_DIR/secret.key`` (mode 0600) so the embedded
defaults start with one command; production deployments set the variable instead, and keep it out
of backups of the data directory.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kb.errors import KBError

log = logging.getLogger(__name__)
KEY_FILE = "secret.key"


class SecretUnreadable(KBError):
    """A stored secret cannot be decrypted: the encryption key changed or the value was altered."""

    code, title = "secret_unreadable", "Stored secret unreadable"


class SecretBox:
    """Encrypts and decrypts short secrets; ciphertexts are URL-safe ASCII strings."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except ValueError as exc:  # never echo the key itself
            raise ValueError(
                "KB_SECURITY__ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64 bytes), "
                "comma-separated"
            ) from exc

    @classmethod
    def from_settings(cls, configured: str | None, data_dir: Path) -> SecretBox:
        """The configured keys, or the generated key file in ``data_dir``."""
        if configured and configured.strip():
            return cls([k for k in configured.split(",") if k.strip()])
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
            log.warning(
                "no KB_SECURITY__ENCRYPTION_KEYS set: generated %s for secrets at rest; set the "
                "variable in production",
                path,
            )
        return cls([path.read_text().strip()])

    def encrypt(self, plaintext: str) -> str:
        """The ciphertext of ``plaintext``."""
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The plaintext, or SecretUnreadable."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode()
        except (InvalidToken, ValueError) as exc:
            raise SecretUnreadable(
                "A stored secret could not be decrypted; was KB_SECURITY__ENCRYPTION_KEYS changed?"
            ) from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the newest key."""
        return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
