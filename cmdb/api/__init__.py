"""The HTTP shell: FastAPI (REST, OpenAPI) and, mounted in it, the GraphQL API (cmdb.gql)."""
