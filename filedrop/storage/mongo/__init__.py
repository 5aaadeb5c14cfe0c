"""The metadata store on MongoDB (or anything speaking its protocol, e.g. FerretDB).

:mod:`.connection` holds the database and its collections, :mod:`.schema` their
indexes; each other module holds one aggregate's queries as a mixin, and
:class:`MongoMetadataStore` composes them.
"""

from __future__ import annotations

from .files import MongoFiles
from .folders import MongoFolders
from .limits import MongoLimits
from .links import MongoLinks
from .schema import MongoSchema
from .uploads import MongoUploads
from .users import MongoUsers


class MongoMetadataStore(
    MongoSchema, MongoFiles, MongoUsers, MongoUploads, MongoFolders, MongoLinks, MongoLimits
):
    """Files, users and rate-limit counters, one collection each."""


__all__ = ["MongoMetadataStore"]
