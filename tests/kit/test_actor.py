"""Who acts: an actor's branch scope, and the scope of what each of its roles lets it do."""

from __future__ import annotations

import pytest

from kit.actor import CASE_HANDLERS, CASE_READERS, Actor, NotAllowed, Role


def test_branch_bound_roles_see_their_branches_and_head_office_roles_every_branch() -> None:
    assert Actor.of("王芳", ["branch"], ["110100"]).branch_codes == frozenset({"110100"})
    assert Actor.of("坐席陈", ["agent"], ["110100"]).branch_codes == frozenset({"110100"})
    for role in ("supervisor", "compliance", "qa"):
        assert Actor.of("x", [role]).branch_codes is None


def test_an_administrator_sees_no_branchs_data_and_widens_no_scope() -> None:
    assert Actor.of("管理员", ["admin"]).branch_codes == frozenset()
    assert Actor.of("吴刚", ["branch", "admin"], ["110100"]).branch_codes == frozenset({"110100"})


def test_acting_as_keeps_the_roles_that_may_do_it_and_their_scope() -> None:
    both = Actor.of("周立", ["branch", "compliance"], ["110100"])
    assert both.branch_codes is None  # reads every branch's cases (compliance)
    handler = both.acting_as(CASE_HANDLERS, "handle cases")
    assert (handler.user, handler.roles, handler.branch_codes) == ("周立", {Role.BRANCH}, {"110100"})
    assert both.acting_as(CASE_READERS, "read cases").branch_codes is None
    head_office = Actor.of("张总", ["supervisor", "compliance"]).acting_as(CASE_HANDLERS, "handle cases")
    assert head_office.branch_codes is None
    with pytest.raises(NotAllowed, match="质检周 may not handle cases"):
        Actor.of("质检周", ["qa"]).acting_as(CASE_HANDLERS, "handle cases")
