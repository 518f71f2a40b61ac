"""The REST shell: FastAPI routers per resource over the use cases in ``cmdb.app``."""
