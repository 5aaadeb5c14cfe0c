"""Metadata, users and rate-limit counters in one SQLite file, for embedded mode.

:mod:`.connection` holds the file, its connections and transactions, :mod:`.schema`
its tables and numbered migrations; each other module holds one aggregate's
queries as a mixin, and :class:`SqliteMetadataStore` composes them.
"""

from __future__ import annotations

from .files import SqliteFiles
from .folders import SqliteFolders
from .limits import SqliteLimits
from .links import SqliteLinks
from .uploads import SqliteUploads
from .users import SqliteUsers


class SqliteMetadataStore(
    SqliteFiles, SqliteUsers, SqliteUploads, SqliteFolders, SqliteLinks, SqliteLimits
):
    """File records, users and rate-limit windows in one SQLite database file."""


__all__ = ["SqliteMetadataStore"]
