"""Folders, move and rename, copy, name clashes — on every backend, and per user."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from flask.testing import FlaskClient

from filedrop.services.fsck import fsck
from filedrop.storage.sqlite import SqliteMetadataStore
from tests.fixtures import EMBEDDED, FAST, Backend
from tests.helpers import error_code, upload
from tests.test_users import _admin, _app, _new_user

pytestmark = pytest.mark.http


def put_file(
    client: FlaskClient,
    content: bytes,
    name: str,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> dict[str, Any]:
    response = upload(client, content, name, fields=fields, headers=headers or {})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def names(files: list[dict[str, Any]]) -> list[str]:
    return [f["file_name"] for f in files]


def listing(client: FlaskClient, query: str, headers: dict[str, str] | None = None) -> Any:
    response = client.get(f"/files?{query}", headers=headers or {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_files_live_in_folders_and_listing_shows_direct_subfolders(client: FlaskClient) -> None:
    put_file(client, b"r", "root.txt")
    put_file(client, b"p", "plan.txt", folder="/projects")
    put_file(client, b"q", "q3.txt", folder="/projects/q3")
    put_file(client, b"d", "deep.txt", folder="/projects/q4/deep/er")
    put_file(client, b"o", "other.txt", folder="/Ölfarben 🎨")

    projects = listing(client, "folder=/projects")
    assert names(projects["files"]) == ["plan.txt"]
    assert projects["folders"] == [
        {"name": "q3", "path": "/projects/q3"},
        {"name": "q4", "path": "/projects/q4"},
    ]
    assert projects["next_cursor"] is None
    root = listing(client, "folder=/")
    assert names(root["files"]) == ["root.txt"]
    assert [f["path"] for f in root["folders"]] == ["/projects", "/Ölfarben 🎨"]  # casefolded
    beneath = listing(client, "folder=/projects&recursive=true")
    assert sorted(names(beneath["files"])) == ["deep.txt", "plan.txt", "q3.txt"]
    assert listing(client, "folder=/projects/q4")["files"] == []
    # Without folder, the listing is what it always was: every file, no `folders` key.
    everything = listing(client, "")
    assert len(everything["files"]) == 5 and "folders" not in everything
    # A folder is a path, not a prefix of names: /projects/q is not /projects/q3.
    assert listing(client, "folder=/projects/q&recursive=true")["files"] == []
    meta = client.get(f"/files/{beneath['files'][0]['file_id']}/metadata").get_json()
    assert meta["folder"].startswith("/projects")


def test_folder_pages_never_skip_or_repeat_while_files_arrive(client: FlaskClient) -> None:
    folders = ["/a", "/a/b", "/c"]
    for i in range(6):
        for folder in folders:
            put_file(client, b"x", f"{folder[1:].replace('/', '-')}-{i}", folder=folder)

    def snapshot(query: str) -> list[str]:
        return [f["file_id"] for f in listing(client, f"{query}&limit=1000")["files"]]

    def walk(query: str, limit: int) -> list[str]:
        seen: list[str] = []
        page = listing(client, f"{query}&limit={limit}")
        assert [f["path"] for f in page["folders"]] == (["/a/b"] if "/a" in query else [])
        while True:
            seen += [f["file_id"] for f in page["files"]]
            # Files arriving mid-walk (in every folder) are newer: never on a later page.
            for folder in folders:
                put_file(client, b"new", "late", folder=folder)
            if not page["next_cursor"]:
                return seen
            page = listing(client, f"{query}&limit={limit}&cursor={page['next_cursor']}")
            assert page["folders"] == []  # subfolders come with the first page only

    for query, limit in [("folder=/a", 4), ("folder=/a&recursive=true", 5), ("folder=/c", 1)]:
        before = snapshot(query)
        seen = walk(query, limit)
        assert seen == before  # same files, same order: none skipped, none repeated
    recursive = snapshot("folder=/a&recursive=true")
    assert set(recursive) == set(snapshot("folder=/a")) | set(snapshot("folder=/a/b"))


@pytest.mark.parametrize(
    "folder", ["", "projects", "/a//b", "/a/", "/./a", "/a/..", "/a\nb", "/" + "x" * 1024]
)
def test_bad_folders_are_400_and_store_nothing(client: FlaskClient, folder: str) -> None:
    response = upload(client, b"x", "f.txt", fields={"folder": folder})
    assert response.status_code == 400 and error_code(response) == "INVALID_FOLDER"
    assert client.get("/files").get_json()["files"] == []
    assert error_code(client.get("/files", query_string={"folder": folder})) == "INVALID_FOLDER"
    made = client.post("/folders", json={"path": folder})
    assert made.status_code == 400 and error_code(made) == "INVALID_FOLDER"


def test_move_and_rename_keep_the_content(client: FlaskClient) -> None:
    meta = put_file(client, b"content", "a.txt", folder="/in")
    url = f"/files/{meta['file_id']}"
    moved = client.put(url, json={"folder": "/out/deeper"})
    assert moved.status_code == 200
    file = moved.get_json()["file"]
    assert file["folder"] == "/out/deeper" and file["file_name"] == "a.txt"
    assert file["etag"] == meta["etag"]
    both = client.put(url, json={"folder": "/", "file_name": "b.txt"}).get_json()["file"]
    assert (both["folder"], both["file_name"]) == ("/", "b.txt")
    # A form without a file, and an empty body with query parameters, move too.
    form = client.put(url, data={"folder": "/form"}, content_type="multipart/form-data")
    assert form.get_json()["file"]["folder"] == "/form"
    query = client.put(f"{url}?folder=/query")
    assert query.get_json()["file"]["folder"] == "/query"
    # New content and a move in one request.
    replaced = client.put(f"{url}?folder=/new", data=b"new content", content_type="text/plain")
    assert replaced.get_json()["file"]["folder"] == "/new"
    assert client.get(url).data == b"new content"
    assert listing(client, "folder=/in")["files"] == []
    assert names(listing(client, "folder=/new")["files"]) == ["b.txt"]
    bad = client.put(url, json={"folder": "nope"})
    assert bad.status_code == 400 and error_code(bad) == "INVALID_FOLDER"
    nothing = client.put(url, json={"on_conflict": "fail"})
    assert nothing.status_code == 400 and error_code(nothing) == "INVALID_REQUEST"


def test_on_conflict_on_upload(client: FlaskClient, backend: Backend) -> None:
    first = put_file(client, b"1", "r.txt", folder="/d")
    assert put_file(client, b"2", "r.txt", folder="/d")["file_name"] == "r.txt"  # default: allow
    refused = upload(client, b"3", "r.txt", fields={"folder": "/d", "on_conflict": "fail"})
    assert refused.status_code == 409 and error_code(refused) == "FILE_EXISTS"
    assert put_file(client, b"3", "r.txt", folder="/e", on_conflict="fail")["folder"] == "/e"
    renamed = [
        put_file(client, b"4", "r.txt", folder="/d", on_conflict="rename")["file_name"]
        for _ in "ab"
    ]
    assert renamed == ["r (1).txt", "r (2).txt"]
    assert put_file(client, b".", ".env", folder="/d")["file_name"] == ".env"
    assert (
        put_file(client, b".", ".env", folder="/d", on_conflict="rename")["file_name"] == ".env (1)"
    )
    bad = upload(client, b"5", "r.txt", fields={"on_conflict": "overwrite"})
    assert bad.status_code == 400 and error_code(bad) == "INVALID_REQUEST"
    # replace: every live r.txt in /d goes once the new one is stored.
    newest = put_file(client, b"newest", "r.txt", folder="/d", on_conflict="replace")
    in_d = listing(client, "folder=/d")["files"]
    assert [f["file_id"] for f in in_d if f["file_name"] == "r.txt"] == [newest["file_id"]]
    assert client.get(f"/files/{first['file_id']}").status_code == 404
    report = fsck(backend.blobs, backend.meta, grace_s=0)
    assert report.orphan_blobs == [] and report.missing_blobs == []
    # A raw upload takes on_conflict from the query.
    raw = client.post("/files/upload?file_name=r.txt&folder=/d&on_conflict=fail", data=b"raw")
    assert raw.status_code == 409


def test_on_conflict_on_move(client: FlaskClient) -> None:
    target = put_file(client, b"target", "same.txt", folder="/t")
    mover = put_file(client, b"mover", "same.txt", folder="/m")
    url = f"/files/{mover['file_id']}"
    refused = client.put(url, json={"folder": "/t", "on_conflict": "fail"})
    assert refused.status_code == 409 and error_code(refused) == "FILE_EXISTS"
    assert client.get(f"{url}/metadata").get_json()["folder"] == "/m"
    # Renaming a file to its own name is no clash.
    assert client.put(url, json={"file_name": "same.txt", "on_conflict": "fail"}).status_code == 200
    renamed = client.put(url, json={"folder": "/t", "on_conflict": "rename"}).get_json()["file"]
    assert (renamed["folder"], renamed["file_name"]) == ("/t", "same (1).txt")
    replaced = client.put(url, json={"file_name": "same.txt", "on_conflict": "replace"})
    assert replaced.status_code == 200
    assert client.get(f"/files/{target['file_id']}").status_code == 404
    assert client.get(url).data == b"mover"
    assert names(listing(client, "folder=/t")["files"]) == ["same.txt"]


def test_copy_is_a_new_file_with_its_own_blob_and_quota(backend: Backend) -> None:
    client = _app(backend).test_client()
    _, key = _new_user(client, quota_bytes=130)
    auth = _admin(key)
    original = put_file(client, b"a" * 40, "orig.txt", headers=auth, folder="/src")
    url = f"/files/{original['file_id']}"
    copied = client.post(f"{url}/copy", headers=auth)
    assert copied.status_code == 201
    twin = copied.get_json()
    assert copied.headers["Location"] == f"/files/{twin['file_id']}"
    assert twin["file_id"] != original["file_id"]
    assert (twin["file_name"], twin["folder"], twin["sha256"]) == (
        "orig.txt",
        "/src",
        original["sha256"],
    )
    renamed = client.post(
        f"{url}/copy", json={"file_name": "two.txt", "folder": "/dst"}, headers=auth
    ).get_json()
    assert (renamed["file_name"], renamed["folder"]) == ("two.txt", "/dst")
    usage = client.get("/me", headers=auth).get_json()["usage"]
    assert usage == {"file_count": 3, "bytes_used": 120, "quota_bytes": 130}
    over = client.post(f"{url}/copy", headers=auth)
    assert over.status_code == 507 and error_code(over) == "QUOTA_EXCEEDED"
    # Each copy has its own blob: deleting the original leaves the copies whole.
    assert client.delete(url, headers=auth).status_code == 200
    assert client.get(f"/files/{twin['file_id']}", headers=auth).data == b"a" * 40
    keys = [b.key for b in backend.blobs.iter_blobs("blobs/")]
    assert len(keys) == 2 and len(set(keys)) == 2
    clash = client.post(
        f"/files/{twin['file_id']}/copy", json={"on_conflict": "fail"}, headers=auth
    )
    assert clash.status_code == 409
    assert client.post(f"{url}/copy", headers=auth).status_code == 404
    bad = client.post(f"/files/{twin['file_id']}/copy", json={"colour": "red"}, headers=auth)
    assert bad.status_code == 400
    assert fsck(backend.blobs, backend.meta, grace_s=0).clean


def test_create_and_delete_folders(client: FlaskClient, backend: Backend) -> None:
    made = client.post("/folders", json={"path": "/empty/inner"})
    assert made.status_code == 201 and made.get_json() == {
        "folder": {"name": "inner", "path": "/empty/inner"},
        "created": True,
    }
    again = client.post("/folders", json={"path": "/empty/inner"})
    assert again.status_code == 200 and again.get_json()["created"] is False
    assert listing(client, "folder=/")["folders"] == [{"name": "empty", "path": "/empty"}]
    assert listing(client, "folder=/empty")["folders"] == [
        {"name": "inner", "path": "/empty/inner"}
    ]
    not_empty = client.delete("/folders?path=/empty")
    assert not_empty.status_code == 409 and error_code(not_empty) == "FOLDER_NOT_EMPTY"
    assert client.delete("/folders?path=/empty/inner").status_code == 200
    assert listing(client, "folder=/")["folders"] == []
    gone = client.delete("/folders?path=/empty")
    assert gone.status_code == 404 and error_code(gone) == "FOLDER_NOT_FOUND"

    for i, folder in enumerate(["/tree", "/tree/a", "/tree/a/b", "/treehouse"]):
        put_file(client, b"t" * i, f"{i}.txt", folder=folder)
    client.post("/folders", json={"path": "/tree/empty"})
    assert client.delete("/folders?path=/tree").status_code == 409
    deleted = client.delete("/folders?path=/tree&recursive=true")
    assert deleted.status_code == 200
    assert deleted.get_json() == {"message": "Folder deleted", "path": "/tree", "files_deleted": 3}
    assert names(listing(client, "")["files"]) == ["3.txt"]  # /treehouse is not beneath /tree
    assert [f["path"] for f in listing(client, "folder=/")["folders"]] == ["/treehouse"]
    assert len(list(backend.blobs.iter_blobs("blobs/"))) == 1
    assert client.delete("/folders?path=/").status_code == 400
    assert client.delete("/folders").status_code == 400
    assert client.delete("/folders?path=/treehouse&recursive=maybe").status_code == 400
    assert client.post("/folders", json={"path": "/x", "extra": 1}).status_code == 400


def test_folders_copies_and_moves_never_cross_users(backend: Backend) -> None:
    client = _app(backend).test_client()
    _, alice_key = _new_user(client, "alice")
    _, bob_key = _new_user(client, "bob")
    alice, bob = _admin(alice_key), _admin(bob_key)
    secret = put_file(client, b"alice's", "plans.txt", headers=alice, folder="/secret/deep")
    client.post("/folders", json={"path": "/secret/empty"}, headers=alice)
    url = f"/files/{secret['file_id']}"

    bob_root = listing(client, "folder=/", bob)
    assert bob_root == {"files": [], "folders": [], "next_cursor": None}
    assert listing(client, "folder=/secret&recursive=true", bob)["files"] == []
    assert client.delete("/folders?path=/secret&recursive=true", headers=bob).status_code == 404
    assert client.post(f"{url}/copy", headers=bob).status_code == 404
    assert client.put(url, json={"folder": "/mine"}, headers=bob).status_code == 404
    # Bob's own folder of the same name is his alone.
    assert client.post("/folders", json={"path": "/secret"}, headers=bob).status_code == 201
    put_file(client, b"bob's", "plans.txt", headers=bob, folder="/secret/deep", on_conflict="fail")
    assert client.delete("/folders?path=/secret&recursive=true", headers=bob).status_code == 200
    alice_view = listing(client, "folder=/secret", alice)
    assert [f["path"] for f in alice_view["folders"]] == ["/secret/deep", "/secret/empty"]
    assert client.get(url, headers=alice).data == b"alice's"


@pytest.mark.parametrize("backend", [FAST, "seaweedfs+ferretdb"], indirect=True)
def test_records_from_before_folders_are_in_the_root(backend: Backend) -> None:
    """Documents written before folders existed have no folder or expiry fields."""
    from filedrop import create_app
    from tests.helpers import upload_ok

    client = create_app(backend.settings, blobs=backend.blobs, meta=backend.meta).test_client()
    meta = upload_ok(client, b"old", "old.txt")
    files = backend.meta._files  # type: ignore[attr-defined]  # below the interface, on purpose
    files.update_one({"_id": meta["file_id"]}, {"$unset": {"folder": "", "expires_at": ""}})
    assert names(listing(client, "folder=/")["files"]) == ["old.txt"]
    assert client.get(f"/files/{meta['file_id']}/metadata").get_json()["folder"] == "/"
    assert client.get(f"/files/{meta['file_id']}").data == b"old"


@pytest.mark.parametrize("backend", [EMBEDDED], indirect=True)
def test_an_sqlite_database_from_before_folders_gains_the_new_columns(
    backend: Backend, tmp_path: Any
) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE files (file_id TEXT PRIMARY KEY, owner TEXT NOT NULL,"
            " file_name TEXT NOT NULL, file_size INTEGER NOT NULL, file_type TEXT NOT NULL,"
            " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, sha256 TEXT NOT NULL,"
            " blob_key TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO files VALUES ('oldfile000000000', 'local', 'old.txt', 3,"
            " 'text/plain', 1000, 1000, ?, 'blobs/oldfile000000000/k')",
            ("0" * 64,),
        )
    store = SqliteMetadataStore(path)
    try:
        record = store.get("local", "oldfile000000000")
        assert record is not None and record.folder == "/" and record.expires_at is None
        assert record.download_count == 0
        assert [r.file_id for r in store.list("local", 10, None, None, folder="/")] == [
            "oldfile000000000"
        ]
    finally:
        store.close()


def test_create_folder_from_the_query_like_delete(client: FlaskClient) -> None:
    made = client.post("/folders?path=/from/query")
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["folder"] == {"name": "query", "path": "/from/query"}
    assert client.post("/folders?path=/from/query").get_json()["created"] is False
    both = client.post("/folders?path=/a", json={"path": "/b"})
    assert both.status_code == 400 and "not both" in both.get_json()["error"]["message"]
    bad = client.post("/folders?path=/a/../b")
    assert bad.status_code == 400 and error_code(bad) == "INVALID_FOLDER"
    for body in (b"", b"path=/x", b"[]"):  # no body, a form, a JSON array
        wrong = client.post("/folders", data=body)
        assert wrong.status_code == 400 and error_code(wrong) == "INVALID_REQUEST"
        assert '{"path": "/projects/q3"}' in wrong.get_json()["error"]["message"]
        assert "?path=" in wrong.get_json()["error"]["message"]
    assert [f["path"] for f in listing(client, "folder=/from")["folders"]] == ["/from/query"]
