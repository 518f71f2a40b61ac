"""The service-management practice on the graph: changes (lifecycle, risk, schedule,
collisions, windows, review) and incidents (priority, SLA clocks).

Depends on ``cmdb.domain``, ``cmdb.store`` and ``impact``; the shells (CLI, API, GraphQL)
depend on it, never the other way round. Pure modules take records and return answers;
:mod:`cmdb.practice.changes` and :mod:`cmdb.practice.incidents` are the ones that read
and write a store.
"""
