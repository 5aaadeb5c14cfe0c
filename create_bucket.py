"""Create the configured bucket if it does not exist (idempotent).

Same as ``flask --app app create-bucket``; run it once before first use.
"""

from filedrop.backends import make_blob_store
from filedrop.config import Settings


def main() -> None:
    settings = Settings.from_env()
    created = make_blob_store(settings).ensure_bucket()
    print(f"bucket {settings.s3_bucket}: {'created' if created else 'already exists'}")


if __name__ == "__main__":
    main()
