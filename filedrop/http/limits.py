"""What the HTTP server accepts before the body, the same under gunicorn
(``filedrop/gunicorn_conf.py``) and ``python app.py`` (``server_errors``).
Past them the answer is a JSON ``414 URI_TOO_LONG`` or ``431 HEADERS_TOO_LARGE``."""

# gunicorn's maximum. Names travel percent-encoded in the query (?file_name=, ?folder=):
# 255 four-byte characters alone are 3060 bytes, past gunicorn's 4094 default with a folder.
REQUEST_LINE_MAX = 8190  # bytes, without the CRLF
HEADER_FIELD_MAX = 8190  # bytes of one "Name: value" line with its CRLF (gunicorn's default)
HEADER_COUNT_MAX = 100  # gunicorn's default
