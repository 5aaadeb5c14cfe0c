"""The Flask class of FILE DROP."""

from __future__ import annotations

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider


class ApiJSONProvider(DefaultJSONProvider):
    """The API's JSON: Flask's compact format, keys in the order the API defines them."""

    sort_keys = False


class FileDropFlask(Flask):
    """Flask, with our JSON and with OPTIONS answered from the route that matched.

    Werkzeug's automatic OPTIONS lists the methods of every rule the path
    matches, so ``/files/upload`` would also advertise ``/files/<file_id>``'s.
    """

    json_provider_class = ApiJSONProvider

    def make_default_options_response(self) -> Response:
        matched = request.url_rule
        methods = {"OPTIONS"}
        if matched is not None:
            for rule in self.url_map.iter_rules():
                if rule.rule == matched.rule:  # one pattern may have a rule per method
                    methods |= rule.methods or set()
        response = Response(status=204, headers={"Allow": ", ".join(sorted(methods))})
        del response.headers["Content-Type"]  # no body, so no (default text/html) type
        return response
