"""Create the configured bucket if it does not exist (idempotent).

Same as ``flask --app app create-bucket``; run it once before first use.
"""

from filedrop.backends import bucket_report, make_blob_store
from filedrop.config import Settings, exit_on_settings_error
from filedrop.errors import FileDropError


def main() -> None:
    with exit_on_settings_error():
        settings = Settings.from_env()
        blobs = make_blob_store(settings)
    try:
        created = blobs.ensure_bucket()
    except FileDropError as exc:
        raise SystemExit(f"Error: {exc.code}: {exc.message}") from None
    print(bucket_report(settings, created))


if __name__ == "__main__":
    main()
