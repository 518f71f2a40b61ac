"""What REST (``cmdb.api``) and GraphQL (``cmdb.gql``) share over HTTP: the request's
store, settings and principal, errors as responses, middleware, the static files and the
impact map page."""
