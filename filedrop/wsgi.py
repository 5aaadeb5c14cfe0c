"""The WSGI application: ``gunicorn filedrop.wsgi:app`` (``app.py`` re-exports it).

A setting FILE DROP cannot run with ends the process with one line naming it.
"""

from . import create_app
from .config import exit_on_settings_error

with exit_on_settings_error():
    app = create_app()
