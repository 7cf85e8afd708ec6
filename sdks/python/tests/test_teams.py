"""Team and API key admin helpers against a live server: a team, its key (shown once), quotas and usage, the key's
scope (it sees only its team) and revocation (the next call fails)."""

from __future__ import annotations

import pytest

import tensor_box as tb

pytestmark = pytest.mark.integration


def test_team_key_quota_revoke(server):
    team = tb.Team.create("py-team")
    key = tb.ApiKey.create(team["teamID"], "py-key")
    assert key["key"].startswith("e2b_") and key["mask"] == "e2b_…" + key["key"][-4:]
    assert [k["id"] for k in tb.ApiKey.list(team["teamID"])] == [key["id"]]
    detail = tb.Team.set_quotas(team["teamID"], {"maxRunningSandboxes": 2})
    assert detail["quotas"]["maxRunningSandboxes"] == 2 and detail["usage"]["runningSandboxes"] == 0
    assert tb.Sandbox.list(api_key=key["key"]) == []
    assert tb.Team.get(team["teamID"], api_key=key["key"])["teamID"] == team["teamID"]
    tb.ApiKey.revoke(team["teamID"], key["id"])
    with pytest.raises(tb.AuthenticationException):
        tb.Sandbox.list(api_key=key["key"])
    tb.Team.delete(team["teamID"])
    with pytest.raises(tb.NotFoundException):
        tb.Team.get(team["teamID"])
