"""The MongoDB metadata store below its interface: documents written by older releases."""

from __future__ import annotations

import pytest

from filedrop.storage.metadata import ListOrder
from filedrop.storage.mongo import MongoMetadataStore
from tests.fixtures import MetaUnderTest
from tests.records import file_record

pytestmark = pytest.mark.contract


@pytest.mark.parametrize("meta_store", ["mongomock", "ferretdb"], indirect=True)
def test_documents_from_before_name_order_get_their_sort_key(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    assert isinstance(store, MongoMetadataStore)
    records = [file_record(name=name) for name in ("b.txt", "Straße.txt", "A.txt", "c.txt")]
    for record in records:
        store.insert(record)
    files = store._files  # below the interface, on purpose: as an older release wrote them
    files.update_many({}, {"$unset": {"name_key": ""}})
    store.ensure_indexes()
    listed = store.list("alice", 10, None, None, order=ListOrder("name", descending=False))
    assert [r.file_name for r in listed] == ["A.txt", "b.txt", "c.txt", "Straße.txt"]
