"""Roles, the permissions they grant, and the change authority they hold.

Routes and GraphQL fields ask for a *permission*, never a role name, so a role can be
widened in one place. The roles are the project's users: viewers (service desk,
architects) read; discovery jobs push inventories; monitoring (Alertmanager) sends
alerts; change managers edit the model and ask for impact; the CAB chair and the change
board edit like a change manager and also decide the changes that need them; admins also
manage tokens.

Deciding a change is a matter of seniority, not of permission: every editing role may
move a change, but authorising (or rejecting) one needs a change authority at least the
level its risk asks for (:func:`covers`; the rule per change is in
:mod:`cmdb.practice.lifecycle`).
"""

from __future__ import annotations

from enum import StrEnum

from cmdb.domain.records import ApprovalLevel


class Permission(StrEnum):
    READ = "read"  # CIs, relationships, services, history, impact, runs
    DISCOVER = "discover"  # push inventories, start discovery runs
    EDIT = "edit"  # create, change and retire CIs and relationships
    ADMIN = "admin"  # tokens, export of the whole CMDB
    ALERT = "alert"  # send monitoring alerts, which open, join and resolve incidents


class Role(StrEnum):
    VIEWER = "viewer"
    DISCOVERY = "discovery"
    CHANGE_MANAGER = "change-manager"
    CAB = "cab"  # the CAB chair, who records the change advisory board's decisions
    CHANGE_BOARD = "change-board"  # the higher (global) board: very high risk, many sites
    ADMIN = "admin"
    MONITORING = "monitoring"  # Alertmanager: reads, and sends alerts (nothing else)


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.DISCOVERY: frozenset({Permission.READ, Permission.DISCOVER}),
    # Whoever may open incidents may send the alerts that open them.
    Role.CHANGE_MANAGER: frozenset({Permission.READ, Permission.EDIT, Permission.ALERT}),
    Role.CAB: frozenset({Permission.READ, Permission.EDIT, Permission.ALERT}),
    Role.CHANGE_BOARD: frozenset({Permission.READ, Permission.EDIT, Permission.ALERT}),
    Role.ADMIN: frozenset(Permission),
    Role.MONITORING: frozenset({Permission.READ, Permission.ALERT}),
}

# The most senior approval each role may give; None: it decides no change. The admin
# holds the board's authority so that one token can always unblock a change.
AUTHORITY: dict[Role, ApprovalLevel | None] = {
    Role.VIEWER: None,
    Role.DISCOVERY: None,
    Role.CHANGE_MANAGER: ApprovalLevel.CHANGE_MANAGER,
    Role.CAB: ApprovalLevel.CAB,
    Role.CHANGE_BOARD: ApprovalLevel.BOARD,
    Role.ADMIN: ApprovalLevel.BOARD,
    Role.MONITORING: None,
}

# ApprovalLevel lists its members most junior first: that order is the seniority.
_RANK: dict[ApprovalLevel, int] = {level: i for i, level in enumerate(ApprovalLevel)}


def grants(role: Role, permission: Permission) -> bool:
    return permission in GRANTS[role]


def authority(role: Role) -> ApprovalLevel | None:
    """The change authority ``role`` holds (None: none at all)."""
    return AUTHORITY[role]


def covers(held: ApprovalLevel | None, needed: ApprovalLevel) -> bool:
    """Whether an authority of ``held`` may give an approval of ``needed``: a more senior
    authority may always decide what a junior one may. No authority covers nothing, not
    even a pre-approved change (deciding one still takes an editing role)."""
    return held is not None and _RANK[held] >= _RANK[needed]
