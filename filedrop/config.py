"""Configuration: one typed object built once from the environment.

Nothing else in the package reads ``os.environ``; everything that can be
configured is a field of :class:`Settings` and is listed in ``.env.example``.

This module imports nothing of Flask or the storage clients: gunicorn's master
checks the settings with it before it binds a port or forks a worker.

Where an instance lives does not depend on the current directory: in a checkout
(the directory holding ``app.py`` beside this package) ``.env`` and the default
``DATA_DIR`` (``data/``) are that directory's; an installed package reads
``.env`` from the current directory and keeps its data under
``$XDG_DATA_HOME/filedrop`` (``~/.local/share/filedrop``).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")


class SettingsError(ValueError):
    """A setting FILE DROP cannot start with. The message is one line that names the
    setting and what to do about it."""


@contextmanager
def exit_on_settings_error() -> Iterator[None]:
    """Turn a :class:`SettingsError` into a one-line exit (status 1), no traceback:
    for the entry points a person runs (``python app.py``, gunicorn, the CLI)."""
    try:
        yield
    except SettingsError as exc:
        print(f"filedrop: {exc}", file=sys.stderr, flush=True)
        # 3 is gunicorn's "worker failed to boot": the master stops instead of
        # starting another worker that would fail the same way.
        raise SystemExit(3) from None


def env_count(name: str, default: int) -> int:
    """A count of at least 1 from the environment variable ``name`` (gunicorn's
    WEB_CONCURRENCY and GUNICORN_THREADS); anything else is a SettingsError."""
    raw = os.environ.get(name, str(default))
    if not raw.strip().isdigit() or int(raw) < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def checkout_dir() -> Path | None:
    """The source checkout this package runs from (it holds ``app.py``), if any."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "app.py").is_file() else None


def default_dotenv() -> Path:
    """The ``.env`` read at startup: the checkout's, else the current directory's."""
    return (checkout_dir() or Path.cwd()) / ".env"


def default_data_dir() -> Path:
    """``DATA_DIR`` when unset: the checkout's ``data/``, else the platform's data directory."""
    home = checkout_dir()
    if home is not None:
        return home / "data"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "filedrop"


def parse_size(text: str) -> int:
    """Parse ``"5GiB"``, ``"500MB"`` or plain bytes ``"1024"`` into bytes."""
    match = _SIZE_RE.match(text)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (use bytes or units like 500MB, 5GiB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on", "enabled"}:
        return True
    if lowered in {"0", "false", "no", "off", "disabled"}:
        return False
    raise ValueError(f"not a boolean: {text!r} (use true or false)")


@dataclass(frozen=True)
class Settings:
    """Every setting of FILE DROP, with its default.

    ``env`` names the environment variable for each field; sizes accept units.
    """

    mongo_uri: str = field(default="", metadata={"env": "MONGO_URI"})
    mongo_db: str = field(default="filedrop", metadata={"env": "MONGO_DB"})
    mongo_timeout_ms: int = field(default=3000, metadata={"env": "MONGO_TIMEOUT_MS"})
    s3_endpoint_url: str = field(default="", metadata={"env": "S3_ENDPOINT_URL"})
    s3_access_key_id: str = field(default="", metadata={"env": "S3_ACCESS_KEY_ID"})
    s3_secret_access_key: str = field(default="", metadata={"env": "S3_SECRET_ACCESS_KEY"})
    s3_region: str = field(default="us-east-1", metadata={"env": "S3_REGION"})
    s3_bucket: str = field(default="filedrop", metadata={"env": "S3_BUCKET"})
    s3_timeout_s: float = field(default=5.0, metadata={"env": "S3_TIMEOUT_S"})
    s3_part_size: int = field(default=8 * 1024**2, metadata={"env": "S3_PART_SIZE", "size": True})
    s3_upload_concurrency: int = field(default=4, metadata={"env": "S3_UPLOAD_CONCURRENCY"})
    s3_max_pool: int = field(default=32, metadata={"env": "S3_MAX_POOL_CONNECTIONS"})
    max_file_size: int = field(default=5 * 1024**3, metadata={"env": "MAX_FILE_SIZE", "size": True})
    default_quota_bytes: int = field(
        default=10 * 1024**3, metadata={"env": "DEFAULT_QUOTA_BYTES", "size": True}
    )
    auth: str = field(default="auto", metadata={"env": "FILEDROP_AUTH"})
    rate_limit_per_window: int = field(default=3000, metadata={"env": "RATE_LIMIT_REQUESTS"})
    rate_limit_window_s: int = field(default=60, metadata={"env": "RATE_LIMIT_WINDOW_S"})
    admin_token: str = field(default="", metadata={"env": "FILEDROP_ADMIN_TOKEN"})
    # Encrypts the S3 secrets of API keys. Empty: embedded mode makes one in DATA_DIR;
    # with MongoDB and S3 and keys on, startup refuses.
    secret_key: str = field(default="", metadata={"env": "FILEDROP_SECRET_KEY"})
    # Seconds a worker trusts an API key it has looked up (0: look up every request).
    auth_cache_s: float = field(default=5.0, metadata={"env": "AUTH_CACHE_S"})
    # Always absolute once read (see default_data_dir and from_env).
    data_dir: str = field(
        default_factory=lambda: str(default_data_dir()), metadata={"env": "DATA_DIR"}
    )
    port: int = field(default=8000, metadata={"env": "PORT"})
    chunk_size: int = field(default=1024**2, metadata={"env": "CHUNK_SIZE", "size": True})
    orphan_grace_s: int = field(default=3600, metadata={"env": "FSCK_ORPHAN_GRACE_S"})
    # `flask purge` also deletes files not downloaded or changed for this many days.
    purge_unaccessed_days: int = field(default=0, metadata={"env": "PURGE_UNACCESSED_DAYS"})
    # Base of the share-link URLs the API hands out; empty: the request's own scheme and host.
    public_base_url: str = field(default="", metadata={"env": "PUBLIC_BASE_URL"})
    tus_expiry_s: int = field(default=86400, metadata={"env": "TUS_EXPIRY_S"})
    tus_lock_s: int = field(default=60, metadata={"env": "TUS_LOCK_S"})
    log_level: str = field(default="INFO", metadata={"env": "LOG_LEVEL"})
    log_format: str = field(default="json", metadata={"env": "LOG_FORMAT"})
    metrics: str = field(default="admin", metadata={"env": "METRICS"})
    # off: the app streams every download; presigned: GET answers 307 to a short-lived S3 URL.
    download_redirect: str = field(default="off", metadata={"env": "DOWNLOAD_REDIRECT"})
    download_redirect_expiry_s: int = field(
        default=60, metadata={"env": "DOWNLOAD_REDIRECT_EXPIRY_S"}
    )
    # Where clients reach S3 (presigned URLs are signed for it); empty: S3_ENDPOINT_URL.
    s3_public_endpoint_url: str = field(default="", metadata={"env": "S3_PUBLIC_ENDPOINT_URL"})
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are believed.
    trusted_proxy_hops: int = field(default=0, metadata={"env": "TRUSTED_PROXY_HOPS"})

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = "default"
    ) -> Settings:
        """Build settings from ``.env`` (if present) overlaid by the real environment.

        Raises :class:`SettingsError` for a value FILE DROP cannot run with."""
        if dotenv_path == "default":
            dotenv_path = default_dotenv()
        merged: dict[str, str] = {}
        if dotenv_path and Path(dotenv_path).is_file():
            merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
            # A relative DATA_DIR in .env is relative to that file, not to where a command runs.
            if merged.get("DATA_DIR"):
                merged["DATA_DIR"] = str(Path(dotenv_path).resolve().parent / merged["DATA_DIR"])
        merged.update(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = merged.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, f.type, raw, bool(f.metadata.get("size")))
        if "data_dir" in values:
            values["data_dir"] = str(Path(str(values["data_dir"])).expanduser().resolve())
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse values FILE DROP cannot run with, one :class:`SettingsError` each."""
        if self.s3_endpoint_url and not self.mongo_uri:
            # Half a production config must not quietly become a keyless local instance.
            raise SettingsError(
                "S3_ENDPOINT_URL is set but MONGO_URI is not: set both (MongoDB + S3), "
                "or neither (embedded mode)"
            )
        if self.mongo_uri and (
            not self.mongo_uri.startswith(_MONGO_SCHEMES) or not urlsplit(self.mongo_uri).netloc
        ):
            raise SettingsError(
                "setting MONGO_URI: use a mongodb://HOST[:PORT] or mongodb+srv://HOST URI "
                "(or leave it empty for embedded mode)"
            )
        if self.log_format not in ("json", "text"):
            raise SettingsError("setting LOG_FORMAT: use json or text")
        if self.metrics not in ("admin", "public", "off"):
            raise SettingsError("setting METRICS: use admin, public or off")
        if self.auth_cache_s < 0:
            raise SettingsError("setting AUTH_CACHE_S: use 0 (off) or a number of seconds")
        if self.purge_unaccessed_days < 0:
            raise SettingsError("setting PURGE_UNACCESSED_DAYS: use 0 (off) or a number of days")
        if self.public_base_url and not self.public_base_url.startswith(("http://", "https://")):
            raise SettingsError("setting PUBLIC_BASE_URL: use an http:// or https:// URL")
        if self.auth.strip().lower() != "auto":
            try:  # refuse typos at startup
                _parse_bool(self.auth)
            except ValueError:
                raise SettingsError(
                    f"setting FILEDROP_AUTH: not {self.auth!r} (use auto, enabled or disabled)"
                ) from None
        if self.trusted_proxy_hops < 0:
            raise SettingsError(
                "setting TRUSTED_PROXY_HOPS: use 0 (no proxy) or the number of proxies"
            )
        _check_download_redirect(self)
        if self.secret_key and len(self.secret_key) < 32:
            raise SettingsError("setting FILEDROP_SECRET_KEY: use at least 32 random characters")
        if self.auth_enabled and self.backend != "embedded" and not self.secret_key:
            raise SettingsError(
                "set FILEDROP_SECRET_KEY (it encrypts API keys' S3 secrets), e.g. to the output"
                " of: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def auth_enabled(self) -> bool:
        """``enabled``/``disabled``; ``auto`` (the default) disables keys only for the
        embedded zero-setup mode, never when MongoDB and S3 are configured."""
        mode = self.auth.strip().lower()
        if mode == "auto":
            return self.backend != "embedded"
        return _parse_bool(mode)

    @property
    def backend(self) -> str:
        """``"mongo+s3"`` when MONGO_URI is set (S3_ENDPOINT_URL may stay empty for
        AWS S3 itself), else ``"embedded"``: SQLite and files under DATA_DIR."""
        return "mongo+s3" if self.mongo_uri else "embedded"


def make_data_dir(settings: Settings) -> None:
    """Embedded mode keeps everything in DATA_DIR: create it now, or stop with one
    line (:class:`SettingsError`) when it cannot be created or written to."""
    if settings.backend != "embedded":
        return
    path = Path(settings.data_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"setting DATA_DIR: cannot create {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SettingsError(f"setting DATA_DIR: {path} is not writable")


def _check_download_redirect(settings: Settings) -> None:
    if settings.download_redirect not in ("off", "presigned"):
        raise SettingsError("setting DOWNLOAD_REDIRECT: use off or presigned")
    if settings.download_redirect == "presigned" and settings.backend == "embedded":
        # Files on the app's own disk have no other address: refuse rather than ignore.
        raise SettingsError(
            "setting DOWNLOAD_REDIRECT: presigned needs S3 storage, and MONGO_URI is unset "
            "(embedded mode serves files itself): use off, or set up MongoDB + S3"
        )
    if not 1 <= settings.download_redirect_expiry_s <= 604800:
        raise SettingsError("setting DOWNLOAD_REDIRECT_EXPIRY_S: use 1 to 604800 seconds (7 days)")
    if settings.s3_public_endpoint_url and not settings.s3_public_endpoint_url.startswith(
        ("http://", "https://")
    ):
        raise SettingsError("setting S3_PUBLIC_ENDPOINT_URL: use an http:// or https:// URL")


def _convert(name: str, type_name: object, raw: str, is_size: bool) -> object:
    try:
        if is_size:
            return parse_size(raw)
        if type_name in ("int", int):
            if not raw.strip().lstrip("-").isdigit():
                raise ValueError(f"not a whole number: {raw!r}")
            return int(raw)
        if type_name in ("float", float):
            try:
                return float(raw)
            except ValueError:
                raise ValueError(f"not a number: {raw!r}") from None
        if type_name in ("bool", bool):
            return _parse_bool(raw)
        return raw
    except ValueError as exc:
        env = next(f.metadata["env"] for f in fields(Settings) if f.name == name)
        raise SettingsError(f"setting {env}: {exc}") from None
