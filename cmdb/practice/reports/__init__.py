"""Status accounting: the reports people expect of a CMDB (domain.md, "Reports"), one
module each, pure over records:

* :mod:`.changes`: by state, type, priority, CI and service; rejected, emergency and
  failed counts; the backlog (open changes) and its age;
* :mod:`.incidents`: by state, priority, service and CI; SLA breaches (the clocks of
  :mod:`cmdb.practice.clocks`, counted in service hours);
* :mod:`.cis`: by class, status, location, owner and environment; the CIs that change
  most (history) and that the most incidents name;
* :mod:`.problems`: by state, category, CI at fault and service; open known errors; the
  open problems' age, and how many incidents they explain;
* CMDB health: see :mod:`cmdb.practice.health`;
* :mod:`.agenda`: the CAB agenda, the changes a meeting must decide or look at, each with
  its risk, impacted services, collisions and window violations.

Which records a report reads for whom, and how they are read from a store, is the use
case's (:mod:`cmdb.app.reports`); the rows of tables and CSV are
:mod:`cmdb.app.report_tables`'s.
"""

# The record rules used to live here; modules that still import them from here get them
# from their home, cmdb.practice.scoped (the shells: through cmdb.app.scope).
from cmdb.practice.scoped import Rec, assessment_seen, named, reads, seen

__all__ = ["Rec", "assessment_seen", "named", "reads", "seen"]
