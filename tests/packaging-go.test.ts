/**
 * The Go SDK as a user's module takes it: an example module outside the repository requires
 * github.com/tensor-box/tensor-box/sdks/go with a replace directive to this checkout, passes `go vet`, builds, and
 * its binary creates a sandbox on a live server, runs a command, writes and reads a file and kills it. The SDK itself
 * is `go vet` clean.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from './helpers/harness.js';
import { execOk } from './helpers/exec.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SDK = path.join(ROOT, 'sdks/go');
const MODULE = 'github.com/tensor-box/tensor-box/sdks/go';

const GO_MOD = `module example.com/tensorbox-example

go 1.24.0

require ${MODULE} v0.0.0

replace ${MODULE} => ${SDK}
`;

const MAIN_GO = `package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"os"
	"time"

	tensorbox "${MODULE}"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sbx, err := tensorbox.Create(ctx, "default", &tensorbox.CreateOptions{Timeout: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = sbx.Kill(context.Background()) }()
	r, err := sbx.Commands.Run(ctx, "echo go-$((40 + 2))", nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := sbx.Files.WriteString(ctx, "/home/user/go.txt", "written by Go", nil); err != nil {
		log.Fatal(err)
	}
	back, err := sbx.Files.Read(ctx, "/home/user/go.txt", nil)
	if err != nil {
		log.Fatal(err)
	}
	_, err = sbx.Files.Read(ctx, "/home/user/nope", nil)
	notFound := errors.Is(err, tensorbox.ErrNotFound)
	out := map[string]any{"stdout": r.Stdout, "exitCode": r.ExitCode, "back": back, "notFound": notFound}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		log.Fatal(err)
	}
}
`;

let s: TestServer;
let work: string;

before(async () => {
  s = await startTestServer();
  work = mkdtempSync(path.join(os.tmpdir(), 'tb-packaging-go-'));
});
after(async () => {
  await s?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('tensor-box Go SDK in a module outside the repository', () => {
  it('the SDK is go vet clean', async () => {
    await execOk('go', ['vet', './...'], { cwd: SDK, timeoutMs: 300_000 });
  });

  it('an example module requiring it (replace directive) vets, builds and runs a sandbox round trip', async () => {
    writeFileSync(path.join(work, 'go.mod'), GO_MOD);
    writeFileSync(path.join(work, 'main.go'), MAIN_GO);
    await execOk('go', ['mod', 'tidy'], { cwd: work, timeoutMs: 300_000 });
    await execOk('go', ['vet', './...'], { cwd: work, timeoutMs: 300_000 });
    const bin = path.join(work, 'example');
    await execOk('go', ['build', '-o', bin, '.'], { cwd: work, timeoutMs: 300_000 });
    const env = { TENSOR_BOX_DOMAIN: s.url, TENSOR_BOX_API_KEY: s.apiKey };
    const r = await execOk(bin, [], { cwd: work, env, timeoutMs: 120_000 });
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out, { stdout: 'go-42\n', exitCode: 0, back: 'written by Go', notFound: true });
  });
});
