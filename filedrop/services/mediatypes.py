"""Which media type a file is, and whether a browser may show it inline.

The first bytes win over the name, except inside a container family: a ZIP's
magic says only "a ZIP", and a .docx, .epub or .apk is one too. There the name
picks the member (an undeclared ``report.docx`` is a Word document, not
``application/zip``); failing that, what the bytes say inside the container (an
ISO-BMFF ``ftyp`` brand, an Ogg stream's codec, a Matroska doctype); failing
that, the family's own type. A name outside the family never overrides magic.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field

# Leading bytes of single formats; checked in order after the container families.
_MAGIC: list[tuple[bytes, int, str]] = [
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"BZh", 0, "application/x-bzip2"),
    (b"\xfd7zXZ\x00", 0, "application/x-xz"),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed"),
    (b"ID3", 0, "audio/mpeg"),
    (b"fLaC", 0, "audio/flac"),
    (b"\x7fELF", 0, "application/x-executable"),
]


@dataclass(frozen=True)
class _Family:
    """Formats sharing one container, hence one magic."""

    magics: tuple[tuple[bytes, int], ...]
    members: dict[str, str]  # file extension -> media type
    default: str | None  # None: no type of its own; the name decides as for any file
    inner: Callable[[bytes], str | None] = field(default=lambda head: None)

    def matches(self, head: bytes) -> bool:
        return any(head[offset : offset + len(magic)] == magic for magic, offset in self.magics)

    def pick(self, head: bytes, extension: str) -> str | None:
        return self.members.get(extension) or self.inner(head) or self.default


_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."
_ZIP = _Family(
    magics=((b"PK\x03\x04", 0), (b"PK\x05\x06", 0), (b"PK\x07\x08", 0)),
    members={
        "docx": _OOXML + "wordprocessingml.document",
        "xlsx": _OOXML + "spreadsheetml.sheet",
        "pptx": _OOXML + "presentationml.presentation",
        "docm": "application/vnd.ms-word.document.macroenabled.12",
        "xlsm": "application/vnd.ms-excel.sheet.macroenabled.12",
        "pptm": "application/vnd.ms-powerpoint.presentation.macroenabled.12",
        "odt": _ODF + "text",
        "ods": _ODF + "spreadsheet",
        "odp": _ODF + "presentation",
        "odg": _ODF + "graphics",
        "epub": "application/epub+zip",
        "jar": "application/java-archive",
        "war": "application/java-archive",
        "apk": "application/vnd.android.package-archive",
        "xpi": "application/x-xpinstall",
        "kmz": "application/vnd.google-earth.kmz",
        "3mf": "model/3mf",
        "vsdx": "application/vnd.ms-visio.drawing",
    },
    default="application/zip",
)


# ISO-BMFF: the box size, then "ftyp" and the major brand.
_BRANDS = {
    **dict.fromkeys([b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"], "image/heic"),
    **dict.fromkeys([b"mif1", b"msf1"], "image/heif"),
    **dict.fromkeys([b"avif", b"avis"], "image/avif"),
    **dict.fromkeys([b"M4A ", b"M4B ", b"M4P "], "audio/mp4"),
    b"qt  ": "video/quicktime",
    **dict.fromkeys([b"3gp4", b"3gp5", b"3gp6", b"3gg6", b"3ge6"], "video/3gpp"),
    **dict.fromkeys([b"3g2a", b"3g2b", b"3g2c"], "video/3gpp2"),
}


def _ftyp_brand(head: bytes) -> str | None:
    return _BRANDS.get(head[8:12])


_FTYP = _Family(
    magics=((b"ftyp", 4),),
    members={
        "heic": "image/heic",
        "heif": "image/heif",
        "avif": "image/avif",
        "m4a": "audio/mp4",
        "m4b": "audio/mp4",
        "mp4": "video/mp4",
        "m4v": "video/mp4",
        "mov": "video/quicktime",
        "3gp": "video/3gpp",
        "3g2": "video/3gpp2",
    },
    default="video/mp4",
    inner=_ftyp_brand,
)


def _ogg_codec(head: bytes) -> str | None:
    """The codec of the first stream, from its first packet (after the page's segment table)."""
    if len(head) < 27:
        return None
    packet = head[27 + head[26] :]
    if packet.startswith(b"OpusHead"):
        return "audio/opus"
    if packet.startswith(b"\x80theora"):
        return "video/ogg"
    return None  # Vorbis, Speex, FLAC in Ogg: the family's audio/ogg


_OGG = _Family(
    magics=((b"OggS", 0),),
    members={
        "ogg": "audio/ogg",
        "oga": "audio/ogg",
        "spx": "audio/ogg",
        "ogv": "video/ogg",
        "opus": "audio/opus",
        "ogx": "application/ogg",
    },
    default="audio/ogg",
    inner=_ogg_codec,
)

_RIFF = _Family(
    magics=((b"RIFF", 0),),
    members={"wav": "audio/wav", "avi": "video/x-msvideo", "webp": "image/webp"},
    default=None,
    inner=lambda head: {
        b"WEBP": "image/webp",
        b"WAVE": "audio/wav",
        b"AVI ": "video/x-msvideo",
    }.get(head[8:12]),
)


def _ebml_doctype(head: bytes) -> str | None:
    window = head[:64]  # the EBML header, where DocType is
    if b"matroska" in window:
        return "video/x-matroska"
    return "video/webm" if b"webm" in window else None


_EBML = _Family(
    magics=((b"\x1aE\xdf\xa3", 0),),
    members={
        "webm": "video/webm",
        "weba": "audio/webm",
        "mkv": "video/x-matroska",
        "mk3d": "video/x-matroska",
        "mka": "audio/x-matroska",
    },
    default="video/webm",
    inner=_ebml_doctype,
)

_FAMILIES = (_ZIP, _FTYP, _OGG, _RIFF, _EBML)

# Types a browser renders without running script: safe for ?disposition=inline.
_INLINE_PREFIXES = ("image/", "audio/", "video/")
_INLINE_EXACT = {"application/pdf", "text/plain"}
_NEVER_INLINE = {"image/svg+xml"}


def _extension(file_name: str) -> str:
    stem, dot, extension = file_name.rpartition(".")
    return extension.lower() if dot and stem else ""


def detect(head: bytes, file_name: str) -> str:
    """Guess a media type from the first bytes, then the name, then text-ness."""
    for family in _FAMILIES:
        if family.matches(head):
            picked = family.pick(head, _extension(file_name))
            if picked is not None:
                return picked
            break
    for magic, offset, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return media_type
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
