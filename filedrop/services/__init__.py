"""Services: the consistency, user and sharing rules, in one place.

Every front end (the REST API, the S3 API, the web app, the CLI) calls these;
they see storage only through the protocols of :mod:`filedrop.storage.metadata`
and :mod:`filedrop.storage.blobs`, and never import the web framework.
"""
