"""The ``filedrop`` command (``pip install -e .``; or ``python -m filedrop``): the Flask
CLI of this app plus ``serve``, from any directory.

    filedrop serve [--port 8000] [--workers 2]   # gunicorn with filedrop/gunicorn_conf.py
    filedrop create-bucket | create-user NAME | fsck [--repair] | ...

It is the same as ``flask --app app <command>`` in the checkout.
"""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup


def _load_app() -> Flask:
    from .wsgi import app

    return app


@click.command("serve")
@click.option("--host", default=None, help="Interface to bind (default: HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: PORT or 8000).")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes.")
def serve_command(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the API with gunicorn, configured from the environment and .env."""
    from .config import env_count, exit_on_settings_error

    with exit_on_settings_error():
        env_count("WEB_CONCURRENCY", 2)  # gunicorn parses it as it is imported, unchecked
    from gunicorn.app.wsgiapp import WSGIApplication

    argv = ["filedrop", "-c", "python:filedrop.gunicorn_conf", "filedrop.wsgi:app"]
    if host or port:
        argv += ["--bind", f"{host or '127.0.0.1'}:{port or 8000}"]
    if workers:
        argv += ["--workers", str(workers)]
    sys.argv = argv  # gunicorn parses its options from sys.argv
    WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]", prog="filedrop serve").run()


cli = FlaskGroup(create_app=_load_app, add_default_commands=True)
cli.add_command(serve_command)


def main() -> None:
    cli(prog_name="filedrop")
