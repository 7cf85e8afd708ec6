"""``Team`` and ``ApiKey``: admin helpers for teams and their API keys (``/teams…``). The admin key manages every
team; a team key may read its own team and manage its own keys. Sandbox users need none of this: the key they pass
decides their team. Results are the API's JSON objects (dicts)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .connection import resolve


class Team:
    """Team calls; every one takes the connection options (``domain``, ``api_key``, …) as keywords.

    Example::

        team = Team.create("product-a", api_key=admin_key)
        Team.set_quotas(team["teamID"], {"maxRunningSandboxes": 10}, api_key=admin_key)
    """

    @staticmethod
    def create(name: str, **conn: Any) -> Dict[str, Any]:
        return resolve(**conn).request("POST", "/teams", json={"name": name}, context="create team").json()

    @staticmethod
    def list(**conn: Any) -> List[Dict[str, Any]]:
        return resolve(**conn).request("GET", "/teams", context="list teams").json()

    @staticmethod
    def get(team_id: str, **conn: Any) -> Dict[str, Any]:
        """The team with its ``quotas`` and ``usage``."""
        return resolve(**conn).request("GET", f"/teams/{team_id}", context=f"get team {team_id}").json()

    @staticmethod
    def set_quotas(team_id: str, quotas: Dict[str, Optional[int]], **conn: Any) -> Dict[str, Any]:
        """Sets quotas (``None`` returns one to the server default)."""
        return (
            resolve(**conn)
            .request("PATCH", f"/teams/{team_id}", json={"quotas": quotas}, context=f"set quotas of team {team_id}")
            .json()
        )

    @staticmethod
    def delete(team_id: str, **conn: Any) -> None:
        """Deletes the team and its keys (refused while it has running sandboxes)."""
        resolve(**conn).request("DELETE", f"/teams/{team_id}", context=f"delete team {team_id}")


class ApiKey:
    """API key calls. ``create`` returns the key itself (``["key"]``) this one time."""

    @staticmethod
    def create(team_id: str, name: str, **conn: Any) -> Dict[str, Any]:
        return (
            resolve(**conn)
            .request("POST", f"/teams/{team_id}/api-keys", json={"name": name}, context="create API key")
            .json()
        )

    @staticmethod
    def list(team_id: str, **conn: Any) -> List[Dict[str, Any]]:
        return resolve(**conn).request("GET", f"/teams/{team_id}/api-keys", context="list API keys").json()

    @staticmethod
    def revoke(team_id: str, api_key_id: str, **conn: Any) -> None:
        resolve(**conn).request(
            "DELETE", f"/teams/{team_id}/api-keys/{api_key_id}", context=f"revoke API key {api_key_id}"
        )
