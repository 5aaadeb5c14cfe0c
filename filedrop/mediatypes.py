"""Which media type a file is, and whether a browser may show it inline."""

from __future__ import annotations

import mimetypes

# Leading bytes of common formats; checked in order.
_MAGIC: list[tuple[bytes, int, str]] = [
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"BZh", 0, "application/x-bzip2"),
    (b"\xfd7zXZ\x00", 0, "application/x-xz"),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed"),
    (b"ID3", 0, "audio/mpeg"),
    (b"OggS", 0, "audio/ogg"),
    (b"fLaC", 0, "audio/flac"),
    (b"ftyp", 4, "video/mp4"),
    (b"\x1aE\xdf\xa3", 0, "video/webm"),
    (b"\x7fELF", 0, "application/x-executable"),
]
_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}

# Types a browser renders without running script: safe for ?disposition=inline.
_INLINE_PREFIXES = ("image/", "audio/", "video/")
_INLINE_EXACT = {"application/pdf", "text/plain"}
_NEVER_INLINE = {"image/svg+xml"}


def detect(head: bytes, file_name: str) -> str:
    """Guess a media type from the first bytes, then the name, then text-ness."""
    for magic, offset, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    guessed, _ = mimetypes.guess_type(file_name, strict=False)
    if guessed:
        return guessed
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sniffed bytes is still text.
            if exc.start >= len(head) - 3:
                return "text/plain"
    return "application/octet-stream"


def inline_safe(media_type: str) -> bool:
    if media_type in _NEVER_INLINE:
        return False
    return media_type in _INLINE_EXACT or media_type.startswith(_INLINE_PREFIXES)
