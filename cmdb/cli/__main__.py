"""``python -m cmdb.cli``: the same as the ``cmdb`` script."""

from cmdb.cli import app

app()
