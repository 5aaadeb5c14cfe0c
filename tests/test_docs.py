"""docs/API.md states what the code does: its table of error codes is the one
the error handlers and the OpenAPI document use, row for row."""

from __future__ import annotations

from pathlib import Path

from filedrop.errors import _HTTP_CODES, FileDropError
from filedrop.http.limits import HEADER_COUNT_MAX, HEADER_FIELD_MAX, REQUEST_LINE_MAX
from filedrop.openapi import _ERROR_DOCS, error_codes

API_DOC = Path(__file__).resolve().parent.parent / "docs" / "API.md"


def error_statuses() -> dict[str, set[int]]:
    """Each code and the statuses it comes with."""
    statuses: dict[str, set[int]] = {}
    pending: list[type[FileDropError]] = [FileDropError]
    while pending:
        cls = pending.pop()
        statuses.setdefault(cls.code, set()).add(cls.status)
        pending.extend(cls.__subclasses__())
    for status, code in _HTTP_CODES.items():
        statuses.setdefault(code, set()).add(status)
    return statuses


def error_table() -> str:
    statuses = error_statuses()
    rows = ["| status | code | when |", "|---|---|---|"]
    for code, (when, _) in _ERROR_DOCS.items():
        status = " / ".join(str(s) for s in sorted(statuses[code]))
        rows.append(f"| {status} | `{code}` | {when} |")
    return "\n".join(rows)


def test_every_error_code_is_documented() -> None:
    assert sorted(_ERROR_DOCS) == error_codes()


def test_the_api_doc_has_the_error_table_of_the_code() -> None:
    assert error_table() in API_DOC.read_text(), error_table()


def test_the_api_doc_states_the_servers_limits() -> None:
    text = " ".join(API_DOC.read_text().split())
    assert f"a request line over {REQUEST_LINE_MAX} bytes is `414`" in text
    assert f"a header line over {HEADER_FIELD_MAX} bytes or more than {HEADER_COUNT_MAX}" in text
