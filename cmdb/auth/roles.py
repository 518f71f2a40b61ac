"""Roles and the permissions they grant.

Routes and GraphQL fields ask for a *permission*, never a role name, so a role can be
widened in one place. The four roles are the project's users: viewers (service desk,
architects) read; discovery jobs push inventories; change managers edit the model and
ask for impact; admins also manage tokens.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    READ = "read"  # CIs, relationships, services, history, impact, runs
    DISCOVER = "discover"  # push inventories, start discovery runs
    EDIT = "edit"  # create, change and retire CIs and relationships
    ADMIN = "admin"  # tokens, export of the whole CMDB


class Role(StrEnum):
    VIEWER = "viewer"
    DISCOVERY = "discovery"
    CHANGE_MANAGER = "change-manager"
    ADMIN = "admin"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.DISCOVERY: frozenset({Permission.READ, Permission.DISCOVER}),
    Role.CHANGE_MANAGER: frozenset({Permission.READ, Permission.EDIT}),
    Role.ADMIN: frozenset(Permission),
}


def grants(role: Role, permission: Permission) -> bool:
    return permission in GRANTS[role]
