"""gunicorn reads this file from the current directory: FILE DROP's settings for it
live in the package, ``filedrop/gunicorn_conf.py``."""

from filedrop.gunicorn_conf import *  # noqa: F403
