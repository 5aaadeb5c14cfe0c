"""Unit tests of small pure pieces: settings, names, media types, checksums, headers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from filedrop.config import Settings, parse_size
from filedrop.errors import ChecksumMismatch, InvalidFileName, InvalidRequest
from filedrop.http.downloads import ascii_fallback, content_disposition
from filedrop.services.checksums import ExpectedDigests, Hasher
from filedrop.services.mediatypes import detect, inline_safe
from filedrop.validation import declared_media_type, header_file_name, validate_file_name

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "size"),
    [("1024", 1024), ("5GiB", 5 * 1024**3), ("500MB", 500 * 10**6), ("1.5KiB", 1536), ("0", 0)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "5XB", "-1", "1 2"])
def test_parse_size_refuses_junk(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_settings_from_env_and_defaults() -> None:
    settings = Settings.from_env(
        {"MAX_FILE_SIZE": "1GiB", "MONGO_URI": "mongodb://x", "FILEDROP_AUTH": "disabled"},
        dotenv_path=None,
    )
    assert settings.max_file_size == 1024**3
    assert settings.backend == "mongo+s3" and not settings.auth_enabled
    assert Settings.from_env({}, dotenv_path=None).backend == "embedded"


def test_auth_auto_is_off_only_for_embedded() -> None:
    assert not Settings.from_env({}, dotenv_path=None).auth_enabled
    server = {"MONGO_URI": "mongodb://x", "FILEDROP_SECRET_KEY": "k" * 32}
    assert Settings.from_env(server, dotenv_path=None).auth_enabled


def test_keys_on_without_a_server_key_refuse_to_start_with_one_setup_line() -> None:
    with pytest.raises(ValueError, match="set FILEDROP_SECRET_KEY"):
        Settings.from_env({"MONGO_URI": "mongodb://x"}, dotenv_path=None)
    with pytest.raises(ValueError, match="at least 32"):
        Settings.from_env({"FILEDROP_SECRET_KEY": "short"}, dotenv_path=None)
    # Without keys there is nothing to seal.
    Settings.from_env({"MONGO_URI": "mongodb://x", "FILEDROP_AUTH": "disabled"}, dotenv_path=None)


@pytest.mark.parametrize(
    "env",
    [
        {"S3_ENDPOINT_URL": "http://s3"},  # half a production config
        {"FILEDROP_AUTH": "maybe"},
        {"MAX_FILE_SIZE": "big"},
        {"PORT": "eighty"},
    ],
)
def test_bad_settings_refuse_to_start(env: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Settings.from_env(env, dotenv_path=None)


def test_dotenv_is_read_and_environment_wins(tmp_path: pytest.TempPathFactory) -> None:
    dotenv = tmp_path / ".env"  # type: ignore[operator]
    dotenv.write_text("S3_BUCKET=from-dotenv\nMONGO_DB=from-dotenv\n")
    settings = Settings.from_env({"MONGO_DB": "from-env"}, dotenv_path=dotenv)
    assert settings.s3_bucket == "from-dotenv" and settings.mongo_db == "from-env"


@pytest.mark.parametrize(
    "name", ["a", "report.pdf", "報告.txt", "x" * 255, "...", ".env", "a b", "تقرير.pdf"]
)
def test_valid_names(name: str) -> None:
    assert validate_file_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        *[None, "", "a/b", "x" * 256, "a\x00", "a\u2028b", "\x1b[31m", ".", ".."],
        *[f"invoice{ch}fdp.exe" for ch in "\u202a\u202b\u202c\u202d\u202e"],
        *[f"invoice{ch}fdp.exe" for ch in "\u2066\u2067\u2068\u2069\u200e\u200f\u061c"],
    ],
)
def test_invalid_names(name: str | None) -> None:
    with pytest.raises(InvalidFileName):
        validate_file_name(name)


def test_header_file_name_decodes_utf8_and_percent() -> None:
    assert header_file_name("caf%C3%A9.txt") == "café.txt"
    assert header_file_name("café".encode().decode("latin-1")) == "café"
    with pytest.raises(InvalidFileName):
        header_file_name("\xff\xfe")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("application/octet-stream", None),
        ("application/x-www-form-urlencoded", None),
        ("Text/Plain; charset=utf-8", "text/plain"),
        ("image/svg+xml", "image/svg+xml"),
        ("text/html\r\nX-Evil: 1", None),
        ("multipart/form-data; boundary=x", None),
        ("nonsense", None),
    ],
)
def test_declared_media_type(value: str | None, expected: str | None) -> None:
    assert declared_media_type(value) == expected


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n", "x", "image/png"),
        (b"%PDF-1.7", "x", "application/pdf"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8", "x", "image/webp"),
        (b"\x00\x01\x02", "song.mp3", "audio/mpeg"),
        (b"plain text", "noext", "text/plain"),
        ("é".encode()[:1], "noext", "text/plain"),  # a character cut by the sniff window
        (b"\x00\xff\x00", "noext", "application/octet-stream"),
    ],
)
def test_detect(head: bytes, name: str, expected: str) -> None:
    assert detect(head, name) == expected


ZIP = b"PK\x03\x04\x14\x00\x06\x00"
# A first Ogg page: 26 header bytes, one segment (of 30 bytes), then the packet at 28.
OGG_PAGE = b"OggS\x00\x02" + bytes(20) + b"\x01\x1e"


def _ftyp(brand: bytes) -> bytes:
    return b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00mif1heic"


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        # ZIP: the name picks the member format, whatever its case.
        (
            ZIP,
            "report.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (ZIP, "Budget.XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (
            ZIP,
            "deck.pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        (ZIP, "essay.odt", "application/vnd.oasis.opendocument.text"),
        (ZIP, "book.epub", "application/epub+zip"),
        (ZIP, "tool.jar", "application/java-archive"),
        (ZIP, "app.apk", "application/vnd.android.package-archive"),
        (ZIP, "archive.zip", "application/zip"),
        (ZIP, "noext", "application/zip"),
        (b"PK\x05\x06" + bytes(18), "empty.zip", "application/zip"),
        # A name outside the family never overrides the magic.
        (ZIP, "evil.html", "application/zip"),
        (ZIP, "photo.png", "application/zip"),
        (b"\x89PNG\r\n\x1a\n", "photo.docx", "image/png"),
        # ISO-BMFF: the name, else the ftyp brand, else MP4.
        (_ftyp(b"isom"), "photo.heic", "image/heic"),
        (_ftyp(b"isom"), "song.m4a", "audio/mp4"),
        (_ftyp(b"isom"), "clip.mov", "video/quicktime"),
        (_ftyp(b"isom"), "clip.3gp", "video/3gpp"),
        (_ftyp(b"isom"), "movie.mp4", "video/mp4"),
        (_ftyp(b"heic"), "upload", "image/heic"),
        (_ftyp(b"mif1"), "upload", "image/heif"),
        (_ftyp(b"avif"), "upload", "image/avif"),
        (_ftyp(b"M4A "), "upload", "audio/mp4"),
        (_ftyp(b"qt  "), "upload", "video/quicktime"),
        (_ftyp(b"3gp5"), "upload", "video/3gpp"),
        (_ftyp(b"mp42"), "upload", "video/mp4"),
        (_ftyp(b"heic"), "notes.txt", "image/heic"),
        (b"\x00\x00\x00\x18ftyp", "upload", "video/mp4"),  # brand cut off by the sniff window
        # RIFF: the name, else the form type.
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "upload", "audio/wav"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "upload", "video/x-msvideo"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "photo.webp", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "take.avi", "video/x-msvideo"),
        # Ogg: the name, else the first stream's codec, else audio.
        (OGG_PAGE + b"\x01vorbis", "upload", "audio/ogg"),
        (OGG_PAGE + b"OpusHead", "upload", "audio/opus"),
        (OGG_PAGE + b"\x80theora", "upload", "video/ogg"),
        (OGG_PAGE + b"\x01vorbis", "voice.opus", "audio/opus"),
        (OGG_PAGE + b"\x01vorbis", "film.ogv", "video/ogg"),
        (OGG_PAGE + b"\x01vorbis", "track.oga", "audio/ogg"),
        (b"OggS", "upload", "audio/ogg"),
        # Matroska/WebM: the name, else the doctype.
        (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\x82\x88matroska", "upload", "video/x-matroska"),
        (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\x82\x84webm", "upload", "video/webm"),
        (b"\x1aE\xdf\xa3", "sound.mka", "audio/x-matroska"),
    ],
)
def test_a_name_picks_the_format_within_its_container_family(
    head: bytes, name: str, expected: str
) -> None:
    assert detect(head, name) == expected


def test_inline_policy() -> None:
    assert inline_safe("image/png") and inline_safe("application/pdf") and inline_safe("text/plain")
    assert not inline_safe("image/svg+xml")
    assert not inline_safe("text/html") and not inline_safe("application/xhtml+xml")


def test_content_disposition_is_header_safe() -> None:
    value = content_disposition('evil"\r\nSet-Cookie: x=1.txt', inline=False)
    assert "\r" not in value and "\n" not in value
    assert value.startswith('attachment; filename="evil_Set-Cookie: x=1.txt"')
    assert content_disposition("日本", inline=True).startswith('inline; filename="download"')


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("report.pdf", "report.pdf"),
        ("a__b .env", "a__b .env"),
        ("café ☕ 日本語.txt", "cafe _.txt"),
        ("Ångström résumé.PDF", "Angstrom resume.PDF"),
        ("ﬁle.txt", "file.txt"),
        ("日本語.txt", "download.txt"),
        ("☕", "download"),
        ("   ", "download"),
        ('50% "off".txt', "50_off_.txt"),
    ],
)
def test_ascii_fallback_is_readable_and_never_empty(name: str, fallback: str) -> None:
    assert ascii_fallback(name) == fallback
    assert content_disposition(name, inline=False).startswith(f'attachment; filename="{fallback}";')


def test_digests_verify_and_refuse() -> None:
    hasher = Hasher({"md5"})
    hasher.update(b"abc")
    good = ExpectedDigests.from_headers(
        "sha-256=ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", None, "kAFQmDzST7DWlj99KOF/cg=="
    )
    good.verify(hasher)
    with pytest.raises(ChecksumMismatch):
        ExpectedDigests.from_headers(None, "sha-256=:AAAA:", None).verify(hasher)
    with pytest.raises(InvalidRequest):
        ExpectedDigests.from_headers("sha-256=not base64!", None, None)
    assert ExpectedDigests.from_headers("unknown=abc", None, None).values == {}


def test_env_example_lists_every_setting_and_parses() -> None:
    from dataclasses import fields
    from pathlib import Path

    from dotenv import dotenv_values

    example = dotenv_values(Path(__file__).parent.parent / ".env.example")
    names = {f.metadata["env"] for f in fields(Settings)}
    assert names == set(example), names ^ set(example)
    Settings.from_env({k: v or "" for k, v in example.items()}, dotenv_path=None)


def test_s3_requests_carry_no_expect_100_continue() -> None:
    """The handshake desyncs kept-alive connections on SeaweedFS/MinIO (see s3.py)."""
    from botocore.awsrequest import AWSResponse

    from filedrop.storage.blobs.s3 import S3BlobStore

    store = S3BlobStore.connect(
        "http://127.0.0.1:9", "a", "b", "us-east-1", "bucket", timeout_s=0.2
    )
    sent: list[dict[str, str]] = []

    def capture(request: object, **_: object) -> AWSResponse:
        sent.append(dict(request.headers))  # type: ignore[attr-defined]
        raise RuntimeError("stop before the network")

    store._s3.meta.events.register("before-send.s3", capture)
    with pytest.raises(RuntimeError):
        store._s3.put_object(Bucket="bucket", Key="k", Body=b"abc")
    assert sent and "Expect" not in sent[0]


def test_s3_timestamps_parse_fast_and_exactly() -> None:
    """Response headers' HTTP dates take the standard library's parser (dateutil, which
    botocore uses, costs 15 times as much per call); anything else, botocore's."""
    from botocore.awsrequest import AWSResponse

    from filedrop.storage.blobs.s3 import S3BlobStore, _timestamp

    expected = datetime(2026, 12, 6, 19, 44, 21, tzinfo=UTC)
    assert _timestamp("Sun, 06 Dec 2026 19:44:21 GMT") == expected
    assert _timestamp("2026-12-06T19:44:21.000Z") == expected
    assert _timestamp("1796586261") == expected

    store = S3BlobStore.connect(
        "http://127.0.0.1:9", "a", "b", "us-east-1", "bucket", timeout_s=0.2
    )
    headers = {"Last-Modified": "Sun, 06 Dec 2026 19:44:21 GMT", "Content-Length": "3"}

    def answer(request: object, **_: object) -> AWSResponse:
        return AWSResponse("http://127.0.0.1:9/bucket/k", 200, headers, _NoBody())

    store._s3.meta.events.register("before-send.s3", answer)
    modified = store._s3.head_object(Bucket="bucket", Key="k")["LastModified"]
    assert modified == expected and modified.tzinfo is UTC  # not dateutil's tzutc()


class _NoBody:
    def stream(self, *_: object, **__: object) -> Iterator[bytes]:
        yield b""


def test_building_apps_does_not_wrap_the_cli_commands_again() -> None:
    """Each app used to wrap the shared command objects once more: after a few thousand
    apps (a test run) a CLI command died of RecursionError."""
    from flask import Flask

    from filedrop import cli

    before = cli.create_user_command.callback
    for name in ("one", "two", "three"):
        cli.init_app(Flask(name))
    assert cli.create_user_command.callback is before
