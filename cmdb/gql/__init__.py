"""The GraphQL API (Strawberry) at ``/graphql``: types, resolvers, DataLoaders, limits.

Named ``gql`` because a package named ``graphql`` would shadow graphql-core. The
schema's shape never depends on settings (so the exported SDL is one file); the limits,
introspection and GraphiQL switches are applied per app in :mod:`cmdb.gql.schema` and
:mod:`cmdb.gql.router`.
"""
