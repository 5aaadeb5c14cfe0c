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
    store._migrations.delete_many({})  # an older release's database: never migrated
    store.ensure_indexes()
    listed = store.list("alice", 10, None, None, order=ListOrder("name", descending=False))
    assert [r.file_name for r in listed] == ["A.txt", "b.txt", "c.txt", "Straße.txt"]


@pytest.mark.parametrize("meta_store", ["mongomock", "ferretdb"], indirect=True)
def test_the_sort_key_migration_runs_once(meta_store: MetaUnderTest) -> None:
    """Once done, a start does not search the files for missing sort keys again (no
    index serves that search)."""
    store = meta_store.store
    assert isinstance(store, MongoMetadataStore)
    store.ensure_indexes()
    record = file_record(name="a.txt")
    store.insert(record)
    store._files.update_many({}, {"$unset": {"name_key": ""}})
    store.ensure_indexes()
    assert store._files.find_one({"_id": record.file_id}, {"name_key": 1}) == {
        "_id": record.file_id
    }
