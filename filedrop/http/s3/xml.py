"""S3's XML: responses built as element trees (so every value is escaped), errors,
and the small request documents S3 clients send (parsed with a size limit)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime

from flask import Request, Response

from .errors import S3Error

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_REQUEST_XML = 1024**2  # a DeleteObjects of 1000 long keys fits


def E(
    tag: str, *children: ET.Element | Iterable[ET.Element] | str | int | bool | None
) -> ET.Element:
    """``<tag>`` with text (str, int, bool) and child elements; None children are left out."""
    node = ET.Element(tag)
    for child in children:
        if child is None:
            continue
        if isinstance(child, bool):
            node.text = "true" if child else "false"
        elif isinstance(child, str | int):
            node.text = str(child)
        elif isinstance(child, ET.Element):
            node.append(child)
        else:
            node.extend(child)
    return node


def timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds, as S3 lists them."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def http_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def xml_response(root: ET.Element, status: int = 200, namespaced: bool = True) -> Response:
    if namespaced:
        root.set("xmlns", NAMESPACE)
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
        root, encoding="utf-8", xml_declaration=False
    )
    return Response(body, status=status, content_type="application/xml")


def error_response(error: S3Error, resource: str, request_id: str, head: bool) -> Response:
    """The S3 error document (no body for HEAD, as S3 does)."""
    if head:
        response = Response(status=error.status)
    else:
        root = E(
            "Error",
            E("Code", error.s3_code),
            E("Message", error.message),
            E("Resource", resource),
            E("RequestId", request_id),
        )
        response = xml_response(root, error.status, namespaced=False)
    for name, value in error.headers.items():
        response.headers[name.replace("_", "-")] = value
    if error.s3_code == "SlowDown" and error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    response.headers["x-amz-request-id"] = request_id
    return response


def read_document(req: Request) -> ET.Element:
    """The request's XML body, read only up to the size a document may have."""
    if req.content_length is not None and req.content_length > MAX_REQUEST_XML:
        raise S3Error("MalformedXML", "The XML document is too large")
    return parse(req.stream.read(MAX_REQUEST_XML + 1))


def parse(body: bytes) -> ET.Element:
    """A request document, its namespace dropped from every tag (clients differ)."""
    if len(body) > MAX_REQUEST_XML:
        raise S3Error("MalformedXML", "The XML document is too large")
    try:
        # The standard parser resolves no external entities, and expat >= 2.4 refuses
        # entity expansion bombs.
        root = ET.fromstring(body)
    except ET.ParseError:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed") from None
    for node in root.iter():
        if isinstance(node.tag, str) and "}" in node.tag:
            node.tag = node.tag.split("}", 1)[1]
    return root
