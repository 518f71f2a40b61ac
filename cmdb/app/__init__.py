"""The use cases, once: what REST, GraphQL and the CLI all call.

A shell (``cmdb.api``, ``cmdb.gql``, ``cmdb.cli``) parses its input, calls a function here
with a :class:`~cmdb.app.caller.Caller` and the store, and renders the answer; the rules
(who may see or write what, input limits, how a record is created or moved on) live here
so that no shell can miss one.
"""
