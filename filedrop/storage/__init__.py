"""Storage: where bytes (BlobStore) and file records (MetadataStore) live.

Nothing here knows about HTTP. Each backend translates its library's failures
into the domain errors of :mod:`filedrop.errors`.
"""
