"""Developer and test support that is not part of the installed application.

Nothing here ships in the wheel (``[tool.setuptools.packages.find]`` lists what does), and
nothing under ``cmdb``, ``discovery`` or ``impact`` imports it; tests, benchmarks and the
Makefile run it from the repository root.
"""
