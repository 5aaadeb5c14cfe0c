"""Configuration: one typed object built once from the environment.

Nothing else in the package reads ``os.environ``; everything that can be
configured is a field of :class:`Settings` and is listed in ``.env.example``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

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
    raise ValueError(f"not a boolean: {text!r}")


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
    data_dir: str = field(default="./data", metadata={"env": "DATA_DIR"})
    port: int = field(default=8000, metadata={"env": "PORT"})
    chunk_size: int = field(default=1024**2, metadata={"env": "CHUNK_SIZE", "size": True})
    orphan_grace_s: int = field(default=3600, metadata={"env": "FSCK_ORPHAN_GRACE_S"})
    # Issue 5: `flask purge` also deletes files not downloaded or changed for this many days.
    purge_unaccessed_days: int = field(default=0, metadata={"env": "PURGE_UNACCESSED_DAYS"})
    # Base of the share-link URLs the API hands out; empty: the request's own scheme and host.
    public_base_url: str = field(default="", metadata={"env": "PUBLIC_BASE_URL"})
    tus_expiry_s: int = field(default=86400, metadata={"env": "TUS_EXPIRY_S"})
    tus_lock_s: int = field(default=60, metadata={"env": "TUS_LOCK_S"})
    log_level: str = field(default="INFO", metadata={"env": "LOG_LEVEL"})
    log_format: str = field(default="json", metadata={"env": "LOG_FORMAT"})
    metrics: str = field(default="admin", metadata={"env": "METRICS"})

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env"
    ) -> Settings:
        """Build settings from ``.env`` (if present) overlaid by the real environment."""
        merged: dict[str, str] = {}
        if dotenv_path and Path(dotenv_path).is_file():
            merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        merged.update(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = merged.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, f.type, raw, bool(f.metadata.get("size")))
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.s3_endpoint_url and not settings.mongo_uri:
            # Half a production config must not quietly become a keyless local instance.
            raise ValueError("S3_ENDPOINT_URL is set but MONGO_URI is not: set both, or neither")
        if settings.log_format not in ("json", "text"):
            raise ValueError("setting LOG_FORMAT: use json or text")
        if settings.metrics not in ("admin", "public", "off"):
            raise ValueError("setting METRICS: use admin, public or off")
        if settings.purge_unaccessed_days < 0:
            raise ValueError("setting PURGE_UNACCESSED_DAYS: use 0 (off) or a number of days")
        if settings.public_base_url and not settings.public_base_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError("setting PUBLIC_BASE_URL: use an http:// or https:// URL")
        if settings.auth.strip().lower() != "auto":
            _convert("auth", bool, settings.auth, False)  # refuse typos at startup
        if settings.secret_key and len(settings.secret_key) < 32:
            raise ValueError("setting FILEDROP_SECRET_KEY: use at least 32 random characters")
        if settings.auth_enabled and settings.backend != "embedded" and not settings.secret_key:
            raise ValueError(
                "set FILEDROP_SECRET_KEY (it encrypts API keys' S3 secrets), e.g. to the output"
                " of: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return settings

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


def _convert(name: str, type_name: object, raw: str, is_size: bool) -> object:
    try:
        if is_size:
            return parse_size(raw)
        if type_name in ("int", int):
            return int(raw)
        if type_name in ("float", float):
            return float(raw)
        if type_name in ("bool", bool):
            return _parse_bool(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"setting {name.upper()}: {exc}") from exc
