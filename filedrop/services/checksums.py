"""Content checksums: what the client promised, and what we computed."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

from ..errors import ChecksumMismatch, InvalidRequest

_ALGORITHMS = {"sha-256": "sha256", "md5": "md5"}


@dataclass(frozen=True)
class ExpectedDigests:
    """Digests the client sent (``Digest``, ``Repr-Digest``, ``Content-MD5``), by hashlib name."""

    values: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_headers(
        cls, digest: str | None, repr_digest: str | None, content_md5: str | None
    ) -> ExpectedDigests:
        values: dict[str, bytes] = {}
        for header in (digest, repr_digest):
            for item in (header or "").split(","):
                algo, sep, encoded = item.strip().partition("=")
                name = _ALGORITHMS.get(algo.strip().lower())
                if sep and name:
                    values[name] = _b64(encoded.strip().strip(":"), algo)
        if content_md5:
            values["md5"] = _b64(content_md5.strip(), "Content-MD5")
        return cls(values)

    def adding(self, name: str, value: bytes | None) -> ExpectedDigests:
        """These digests and ``value`` for hashlib's ``name`` (None: nothing more)."""
        return self if value is None else ExpectedDigests({**self.values, name: value})

    def verify(self, computed: Hasher) -> None:
        for name, expected in self.values.items():
            if computed.digest(name) != expected:
                raise ChecksumMismatch(
                    f"The content does not match the {name} digest sent", algorithm=name
                )


class Hasher:
    """Hashes a stream as it passes: SHA-256 always, MD5 only when asked for."""

    def __init__(self, extra: set[str] | None = None) -> None:
        self._hashes = {"sha256": hashlib.sha256()}
        for name in extra or ():
            self._hashes[name] = hashlib.new(name)
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self.size += len(chunk)
        for h in self._hashes.values():
            h.update(chunk)

    def digest(self, name: str) -> bytes:
        return self._hashes[name].digest()

    @property
    def sha256_hex(self) -> str:
        return self._hashes["sha256"].hexdigest()


def _b64(encoded: str, what: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{what} digest is not valid base64") from None
