"""Storage: where bytes (BlobStore) and records (the protocols of metadata.py) live.

Nothing here knows about HTTP. Each backend translates its library's failures
into the domain errors of :mod:`filedrop.errors`.
"""
