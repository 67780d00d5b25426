"""Who acts (architecture invariant 8): every action and every read of people's data names an actor.

The CLI builds one from HUIFANG_OPERATOR (else the login), the console from the signed-in user, the API from
its key, a job is `SYSTEM`. Branch scope is decided here once (`branch_codes`) and applied in the queries
(`storage.scope`); permissions are checked by the services with `require`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum


class Role(StrEnum):
    BRANCH = "branch"  # a branch's case handler: only the listed branches' data
    SUPERVISOR = "supervisor"  # head office: all branches
    COMPLIANCE = "compliance"  # recordings and the audit trail; read-only on cases
    AGENT = "agent"  # the hand-off desk
    ADMIN = "admin"  # users
    QA = "qa"  # quality inspection
    OPERATOR = "operator"  # the command line on the server (trusted: it can reach the database anyway)
    SYSTEM = "system"  # jobs: the dialer, the SLA sweep, webhooks acting for the robot


# the roles whose data is every branch's (an administrator's is the accounts: no branch's data, so not here —
# else an administrator who is also a branch user would see every branch; docs/console.md)
ALL_BRANCH_ROLES = frozenset({Role.SUPERVISOR, Role.COMPLIANCE, Role.QA, Role.OPERATOR, Role.SYSTEM})
CASE_HANDLERS = frozenset({Role.BRANCH, Role.SUPERVISOR, Role.OPERATOR, Role.SYSTEM})
CASE_READERS = CASE_HANDLERS | {Role.COMPLIANCE, Role.QA}
CASE_DISPATCHERS = frozenset({Role.SUPERVISOR, Role.OPERATOR})  # assign many cases at once, in any branch
RECORDING_READERS = frozenset({Role.COMPLIANCE, Role.SUPERVISOR, Role.QA, Role.OPERATOR})
# who may listen to one recording in their scope (recordings.playback): the readers, and a branch's case
# handlers for their own branches' calls (docs/console.md: a branch sees its branches' recordings)
RECORDING_PLAYERS = RECORDING_READERS | {Role.BRANCH}
RECORDING_KEEPERS = frozenset({Role.COMPLIANCE, Role.OPERATOR, Role.SYSTEM})  # verify, purge, disputes
AUDIT_READERS = frozenset({Role.COMPLIANCE, Role.ADMIN, Role.OPERATOR})
POLICY_IMPORTERS = frozenset({Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR})  # upload policy files (console imports)
REPORT_READERS = frozenset({Role.SUPERVISOR, Role.OPERATOR})  # the dashboard and the KPI page (docs/console.md)


class NotAllowed(PermissionError):
    """The actor may not do this; the message names the actor and what it lacks, `needs` the roles that would
    do (for front doors that say it in their own words)."""

    def __init__(self, message: str, needs: frozenset[Role] = frozenset()) -> None:
        super().__init__(message)
        self.needs = needs


@dataclass(frozen=True)
class Actor:
    user: str
    roles: frozenset[Role]
    branches: frozenset[str] = frozenset()  # branch codes, for the `branch` and `agent` roles

    def __post_init__(self) -> None:
        if not self.user.strip():
            raise ValueError("an actor needs a user name")
        if not self.roles:
            raise ValueError(f"actor {self.user} has no role")

    @classmethod
    def of(cls, user: str, roles: Iterable[Role | str], branches: Iterable[str] = ()) -> Actor:
        return cls(user, frozenset(Role(r) for r in roles), frozenset(branches))

    @property
    def all_branches(self) -> bool:
        return bool(self.roles & ALL_BRANCH_ROLES)

    @property
    def branch_codes(self) -> frozenset[str] | None:
        """The branches whose data this actor may see; None for all of them."""
        return None if self.all_branches else self.branches

    def sees_branch(self, code: str) -> bool:
        return self.all_branches or code in self.branches

    def has(self, roles: Iterable[Role]) -> bool:
        return bool(self.roles & frozenset(roles))

    def require(self, roles: Iterable[Role], doing: str) -> None:
        wanted = frozenset(roles)
        if not self.roles & wanted:
            raise NotAllowed(f"{self.user} may not {doing} (needs one of: {', '.join(sorted(wanted))})", wanted)

    def acting_as(self, roles: Iterable[Role], doing: str) -> Actor:
        """This actor with only those of its roles that may do this (NotAllowed when none may): its scope is
        then the scope of those roles. A user's roles each grant their rights over their own scope, and no
        more: a branch user who is also compliance reads every branch's cases but works only their own."""
        self.require(roles, doing)
        return replace(self, roles=self.roles & frozenset(roles))


SYSTEM = Actor("system", frozenset({Role.SYSTEM}))


def watch_actor(folder: str) -> Actor:
    """The drop folder's watcher (`huifang watch`, the dialer's `drop` job): a system actor named
    `watch:<folder>`, the folder's tail when the whole path is longer than a user name may be (64)."""
    name = f"watch:{folder}"
    return Actor(name if len(name) <= 64 else f"watch:…{folder[-57:]}", frozenset({Role.SYSTEM}))


def operator_actor(user: str) -> Actor:
    """The command line's actor: the operator on the server, with every branch in view."""
    return Actor(user, frozenset({Role.OPERATOR}))
