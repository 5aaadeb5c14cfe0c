"""Operations as Flask CLI commands: ``flask --app app create-bucket|fsck``.

A command that fails on FILE DROP's own error (MongoDB or S3 unreachable, say)
prints one line, ``CODE: message``, and exits with status 1.
"""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .backends import bucket_report, describe
from .config import parse_size
from .errors import FileDropError
from .services.expiry import purge
from .services.files import FileService
from .services.fsck import fsck
from .services.links import LinkService
from .services.multipart import MultipartService
from .services.uploads import UploadService
from .services.users import UserService
from .storage.metadata import CatalogStore, utcnow


def _service() -> FileService:
    service: FileService = current_app.extensions["filedrop"]
    return service


@click.command("create-bucket")
@with_appcontext
def create_bucket_command() -> None:
    """Create the configured bucket (and database indexes) if missing. Idempotent."""
    service = _service()
    created = service.blobs.ensure_bucket()
    service.meta.ensure_indexes()
    click.echo(bucket_report(current_app.extensions["filedrop.settings"], created))


@click.command("fsck")
@with_appcontext
@click.option("--repair", is_flag=True, help="Delete orphans and records whose blob is gone.")
@click.option("--grace", type=int, default=None, help="Seconds to leave recent objects alone.")
def fsck_command(repair: bool, grace: int | None) -> None:
    """Report blobs without metadata and metadata without blobs; fix with --repair."""
    service = _service()
    settings = current_app.extensions["filedrop.settings"]
    grace_s = settings.orphan_grace_s if grace is None else grace
    # Which store it checks, so a wrong DATA_DIR or .env shows before "clean" does.
    where = f"metadata in {describe(service.meta)}, blobs in {describe(service.blobs)}"
    click.echo(f"fsck: {where}", err=True)  # stdout stays the JSON report
    catalog: CatalogStore = current_app.extensions["filedrop.catalog"]
    report = fsck(service.blobs, catalog, repair=repair, grace_s=grace_s)
    click.echo(json.dumps(report.as_dict(), indent=2))
    if not report.clean and not repair:
        raise SystemExit(1)


@click.command("create-user")
@click.argument("name")
@click.option("--quota", default=None, help="Quota in bytes or units (5GiB); default from config.")
@with_appcontext
def create_user_command(name: str, quota: str | None) -> None:
    """Create a user and print their API key and S3 key pair (shown only this once)."""
    users: UserService = current_app.extensions["filedrop.users"]
    try:
        quota_bytes = parse_size(quota) if quota is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--quota") from None
    user, key = users.create(name, quota_bytes)
    click.echo(f"user {user.user_id} ({user.name}), quota {user.quota_bytes} bytes")
    click.echo(f"api key (shown once): {key.api_key}")
    click.echo(f"s3 access key id: {key.record.access_key_id}")
    click.echo(f"s3 secret access key (shown once): {key.secret_access_key}")


@click.command("purge-uploads")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="Report what would go, change nothing.")
def purge_uploads_command(dry_run: bool) -> None:
    """Remove expired resumable uploads: abort their multipart uploads, free their quota."""
    uploads: UploadService = current_app.extensions["filedrop.uploads"]
    click.echo(json.dumps(uploads.purge(dry_run=dry_run).as_dict(), indent=2))


@click.command("purge")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="Report what would go, change nothing.")
@click.option(
    "--unaccessed-days",
    type=click.IntRange(min=0),
    default=None,
    help="Also delete files not downloaded or changed for this many days "
    "(default: PURGE_UNACCESSED_DAYS; 0 turns it off).",
)
def purge_command(dry_run: bool, unaccessed_days: int | None) -> None:
    """Delete expired files (metadata, then blobs), unaccessed ones if so configured,
    the records of share links that ended, and expired resumable uploads."""
    settings = current_app.extensions["filedrop.settings"]
    days = settings.purge_unaccessed_days if unaccessed_days is None else unaccessed_days
    links: LinkService = current_app.extensions["filedrop.links"]
    report = purge(_service(), links, utcnow(), unaccessed_days=days, dry_run=dry_run)
    # One cron job for everything that expires: resumable uploads too (as purge-uploads).
    uploads: UploadService = current_app.extensions["filedrop.uploads"]
    expired_uploads = uploads.purge(dry_run=dry_run).as_dict()
    # S3 API multipart uploads left unfinished as long as a resumable upload may live.
    multipart: MultipartService = current_app.extensions["filedrop.multipart"]
    started_before = utcnow() - timedelta(seconds=settings.tus_expiry_s)
    abandoned = multipart.purge(started_before, dry_run)
    body = {**report.as_dict(), "uploads": expired_uploads, "s3_multipart_uploads": abandoned}
    click.echo(json.dumps(body, indent=2))


def _one_line_errors(command: click.Command) -> click.Command:
    """``CODE: message`` and status 1 for a FileDropError, not a chained traceback."""
    callback = command.callback
    assert callback is not None

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except FileDropError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None

    command.callback = run
    return command


# Wrapped once, here: the commands are module objects that every app built in this
# process shares, so wrapping them per app would nest a wrapper for each app.
COMMANDS = tuple(
    _one_line_errors(command)
    for command in (
        create_bucket_command,
        fsck_command,
        create_user_command,
        purge_uploads_command,
        purge_command,
    )
)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
