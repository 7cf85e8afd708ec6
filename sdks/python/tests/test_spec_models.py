"""The hand-written data types against spec/openapi.yaml: for each schema the SDK reads, a sample answer with every
property set is built from the spec itself, read with the type's ``from_api``, and each property must land in the field
of its snake_case name (``memoryMB`` → ``memory_mb``, ``templateID`` → ``template_id``). A property the spec adds or
renames fails here until the model reads it (or the exception list below says why it does not)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml

import tensor_box as tb
from tensor_box.template_models import BuildLogs

SPEC = yaml.safe_load((Path(__file__).resolve().parents[3] / "spec" / "openapi.yaml").read_text())
SCHEMAS = SPEC["components"]["schemas"]

# schema → (how to read it, {property: field name or None when deliberately not kept})
CASES = {
    "Template": (tb.TemplateInfo.from_api, {}),
    "TemplateWithBuilds": (tb.TemplateInfo.from_api, {}),
    "TemplateBuild": (tb.TemplateBuild.from_api, {}),
    "TemplateBuildInfo": (tb.TemplateBuild.from_api, {}),
    "BuildStatusReason": (tb.BuildReason.from_api, {}),
    "BuildLogEntry": (tb.BuildLogEntry.from_api, {}),
    "BaseImage": (tb.BaseImage.from_api, {}),
    "TemplateRequestResponse": (tb.TemplateCreated.from_api, {}),
    "TemplateBuildLogsResponse": (
        lambda d: BuildLogs([tb.BuildLogEntry.from_api(e) for e in d["logs"]], d["nextOffset"]),
        {},
    ),
    "SnapshotInfo": (tb.SnapshotInfo.from_api, {}),
    "SandboxDetail": (
        tb.SandboxInfo.from_api,
        {
            "alias": "name",
            "clientID": None,  # deprecated
            "envdAccessToken": None,  # kept by Sandbox itself, not by the info
            "domain": None,  # kept by Sandbox (sandbox_domain)
            "allowInternetAccess": None,
        },
    ),
    "ListedSandbox": (tb.SandboxInfo.from_api, {"alias": "name", "clientID": None}),
    "SandboxMetric": (tb.SandboxMetrics.from_api, {"timestampUnix": "timestamp", "memCache": None}),
    "SandboxLogEntry": (tb.SandboxLogEntry.from_api, {}),
}


def snake(name: str) -> str:
    name = re.sub(r"ID(?=[A-Z]|$)", "Id", name).replace("MB", "Mb")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def resolve(schema: Dict[str, Any]) -> Dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def sample(schema: Dict[str, Any], depth: int = 0) -> Any:
    """A value of the schema with every property set to something that is not a default."""
    s = resolve(schema)
    if "enum" in s:
        return s["enum"][-1]
    t = s.get("type")
    if t == "object" or "properties" in s:
        if "properties" not in s:
            return {"k": "v"}
        return {k: sample(v, depth + 1) for k, v in s["properties"].items()} if depth < 4 else {}
    if t == "array":
        return [sample(s["items"], depth + 1)]
    if t == "integer":
        return 7
    if t == "number":
        return 7.5
    if t == "boolean":
        return True
    if s.get("format") == "date-time":
        return "2026-01-02T03:04:05Z"
    return "x"


def is_set(v: Any) -> bool:
    return v not in (None, "", [], {}, False, 0)


@pytest.mark.parametrize("schema", sorted(CASES))
def test_model_reads_every_spec_property(schema):
    read, renames = CASES[schema]
    props = SCHEMAS[schema]["properties"]
    obj = read(sample(SCHEMAS[schema]))
    missing = []
    for prop in props:
        field = renames.get(prop, snake(prop))
        if field is None:
            continue
        if not hasattr(obj, field) or not is_set(getattr(obj, field)):
            missing.append(f"{prop} → {field}")
    assert not missing, f"{type(obj).__name__} does not read {schema}'s {missing}"
