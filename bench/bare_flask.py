"""The floor of a Flask request on this machine: an app that only answers
``GET /healthz`` and ``GET /readyz`` with a small JSON document. The bench serves
it with the same gunicorn settings as FILE DROP (``--start-servers``), so the
worker CPU per request it shows is what Flask and gunicorn cost before any of
FILE DROP's own work."""

from __future__ import annotations

from flask import Flask, Response, jsonify

app = Flask(__name__)


@app.get("/healthz")
@app.get("/readyz")
def healthz() -> Response:
    return jsonify({"status": "ok"})
