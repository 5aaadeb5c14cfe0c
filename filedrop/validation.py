"""Rules for values users send: file names, media types, list parameters."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from .errors import InvalidFileName, InvalidRequest

MAX_NAME_LENGTH = 255
_MEDIA_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


# Bidirectional embeddings, overrides and isolates, and the invisible direction marks:
# with them "invoice\u202efdp.exe" displays as "invoiceexe.pdf".
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)


def validate_file_name(name: str | None) -> str:
    """Return ``name`` if it is a valid file name, else raise."""
    if name is None or name == "":
        raise InvalidFileName("file_name is required and must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidFileName(f"file_name is longer than {MAX_NAME_LENGTH} characters")
    if "/" in name:
        raise InvalidFileName("file_name must not contain '/'")
    if name in (".", ".."):
        raise InvalidFileName("file_name must not be '.' or '..'")
    unsafe = unsafe_characters(name)
    if unsafe:
        raise InvalidFileName(f"file_name must not contain {unsafe}")
    return name


def unsafe_characters(text: str) -> str | None:
    """What no file or folder name may hold, described, or None: control characters
    (line and paragraph separators too) and bidirectional controls, which make a
    name display as another one."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs") or ch in "\u2028\u2029":
            return "control characters"
        if ch in BIDI_CONTROLS:
            return (
                f"bidirectional control characters (U+{ord(ch):04X}): they make a name"
                " display as another one"
            )
    return None


def header_file_name(raw: str) -> str:
    """Decode an ``X-File-Name`` header: UTF-8, percent-encoded where needed.

    WSGI hands headers over as Latin-1; clients that send raw UTF-8 get it
    back intact, and ``%XX`` escapes let any name travel as ASCII.
    """
    try:
        text = raw.encode("latin-1").decode("utf-8")
        # The escapes must spell UTF-8 too: "%FF" is as invalid as a raw 0xFF byte.
        return unquote(text, errors="strict") if "%" in text else text
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise InvalidFileName("X-File-Name is not valid UTF-8") from None


def declared_media_type(value: str | None) -> str | None:
    """The essence (``type/subtype``) of a declared Content-Type, or None.

    None means "not declared": absent, ``application/octet-stream``, a form
    encoding that tools such as curl send by default, or anything malformed
    (which must never reach a response header).
    """
    if not value:
        return None
    essence = value.split(";", 1)[0].strip().lower()
    if essence in ("application/octet-stream", "application/x-www-form-urlencoded"):
        return None
    if essence.startswith("multipart/") or not _MEDIA_TYPE_RE.match(essence):
        return None
    return essence


def int_param(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}")
    return value


def bool_param(raw: str | None, name: str) -> bool:
    """A boolean query parameter: true/false, 1/0, yes/no; absent is false."""
    if raw is None:
        return False
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise InvalidRequest(f"{name} must be true or false")
