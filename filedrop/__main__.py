"""``python -m filedrop``: the ``filedrop`` command without installing the package."""

from .console import main

main()
