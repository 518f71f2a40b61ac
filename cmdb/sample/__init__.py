"""The sample estate graph-cmdb ships: Saltmarsh Ferries, a fictional ferry operator."""
