"""The web server: one ASGI app that mounts the REST API (``cmdb.api``), the GraphQL API
(``cmdb.gql``) and the impact map (``cmdb.web``), and the ``cmdb serve`` command.

It is the one place the shells meet; ``cmdb.api``, ``cmdb.gql`` and ``cmdb.cli`` do not
import one another (import-linter, ``make lint``).
"""
