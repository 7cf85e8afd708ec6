"""Test fixtures: a real Tensor Box server started through the repo's TypeScript harness (tests/helpers/harness.ts),
and sandboxes that are always killed. Integration tests are skipped while the sandbox runtime is not built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # fake_envd

REPO_ROOT = Path(__file__).resolve().parents[3]

# Prints the server's URL and key on one line, then lives until stdin closes (the fixture's end).
SERVE_SCRIPT = """
import { startTestServer } from './tests/helpers/harness.ts';
const s = await startTestServer();
process.stdout.write(JSON.stringify({ url: s.url, apiKey: s.apiKey }) + '\\n');
process.stdin.resume();
process.stdin.on('end', async () => { try { await s.close(); } finally { process.exit(0); } });
"""


def runtime_missing_reason() -> str:
    """Why real sandboxes cannot be made here ('' when they can)."""
    index = REPO_ROOT / "packages/runtime/src/index.ts"
    if not index.exists() or "ContainerDriver" not in index.read_text():
        return "sandbox runtime not built yet: packages/runtime/src/index.ts does not export ContainerDriver"
    for binary in ("build/tb-launch", "build/envd"):
        if not (REPO_ROOT / binary).exists():
            return f"sandbox runtime not built yet: {binary} is missing"
    return ""


@pytest.fixture(scope="session")
def server() -> Iterator[Dict[str, str]]:
    """A live server for the session: ``{"url", "api_key"}``; also exported as TENSOR_BOX_DOMAIN/_API_KEY."""
    reason = runtime_missing_reason()
    if reason:
        pytest.skip(reason)
    proc = subprocess.Popen(
        ["node", "--import", "tsx", "--input-type=module", "-e", SERVE_SCRIPT],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line: list = []
    reader = threading.Thread(
        target=lambda: line.append(proc.stdout.readline()),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    # The first start may build the default template's root filesystem.
    reader.join(900)
    if not line or not line[0].strip():
        proc.kill()
        raise RuntimeError(
            f"test server did not start: {proc.stderr.read() if proc.stderr else ''}"  # type: ignore[union-attr]
        )
    info = json.loads(line[0])
    saved = {k: os.environ.get(k) for k in ("TENSOR_BOX_DOMAIN", "TENSOR_BOX_API_KEY")}
    os.environ["TENSOR_BOX_DOMAIN"] = info["url"]
    os.environ["TENSOR_BOX_API_KEY"] = info["apiKey"]
    try:
        yield {"url": info["url"], "api_key": info["apiKey"]}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        try:
            proc.stdin.close()  # type: ignore[union-attr]
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def sandbox(server):
    """A fresh sandbox, killed after the test whatever happened."""
    import tensor_box as tb

    sbx = tb.Sandbox.create("default", timeout_ms=120_000)
    try:
        yield sbx
    finally:
        try:
            tb.Sandbox.kill(sbx.sandbox_id)
        except tb.SandboxException:
            pass
