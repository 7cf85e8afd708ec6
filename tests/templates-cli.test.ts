/**
 * Template builds as a user runs them: `tensor-box template init/build/list/get/delete` as real processes against a
 * real server (stdout, stderr, exit codes, the e2b.toml they write), sandboxes started from the built templates, and
 * the SDK's Template calls (uploadFiles, getBuildLogs, exists, commitAsTemplate).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sandbox, Template } from 'tensor-box';
import { run, startTestServer, type TestServer } from './helpers/harness.js';

const BIN = fileURLToPath(new URL('../packages/cli/bin/dev.js', import.meta.url));
let s: TestServer;
let work: string;
const made: string[] = [];

/**
 * Runs the CLI as a separate process in `cwd`. Asynchronous on purpose: the server under test lives in this process.
 */
function cli(
  args: string[],
  cwd: string,
  timeoutMs = 300_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, TENSOR_BOX_DOMAIN: s.url, TENSOR_BOX_API_KEY: s.apiKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function dir(name: string): string {
  const d = path.join(work, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Runs a command in a new sandbox of the template and kills it. */
async function inSandbox(template: string, cmd: string): Promise<string> {
  const sbx = await Sandbox.create(template, { ...s.conn, timeoutMs: 60_000 });
  try {
    return (await sbx.commands.run(cmd)).stdout;
  } finally {
    await sbx.kill();
  }
}

before(async () => {
  s = await startTestServer();
  work = mkdtempSync(path.join(os.tmpdir(), 'tb-tpl-cli-'));
});
after(async () => {
  for (const id of made) await Template.delete(id, s.conn).catch(() => {});
  await s?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('tensor-box template (CLI)', () => {
  it('init writes e2b.toml offline and refuses to overwrite it', async () => {
    const d = dir('init');
    const r = await cli(
      [
        'template',
        'init',
        '--name',
        'agent-runtime',
        '--from-image',
        'ubuntu:24.04',
        '--cpu',
        '4',
        '--memory',
        '4096',
        '--disk-gb',
        '10',
        '--start-cmd',
        'python3 -m http.server',
        '--ready-cmd',
        'curl -sf localhost:8000',
      ],
      d,
    );
    assert.equal(r.code, 0, r.stderr);
    const toml = readFileSync(path.join(d, 'e2b.toml'), 'utf8');
    for (const line of [
      'name = "agent-runtime"',
      'from_image = "ubuntu:24.04"',
      'cpu_count = 4',
      'memory_mb = 4096',
      'disk_gb = 10',
      'start_cmd = "python3 -m http.server"',
      'ready_cmd = "curl -sf localhost:8000"',
    ]) {
      assert.ok(toml.includes(line), `${line} missing in:\n${toml}`);
    }
    const again = await cli(['template', 'init', '--name', 'other'], d);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists; pass --force/);
    assert.equal((await cli(['template', 'init', '--name', 'other', '--force'], d)).code, 0);
    assert.match(readFileSync(path.join(d, 'e2b.toml'), 'utf8'), /name = "other"\nfrom_template = "default"/);
    const both = await cli(
      ['template', 'init', '--name', 'x', '--from-image', 'a', '--from-template', 'b', '--path', d, '--force'],
      work,
    );
    assert.equal(both.code, 2);
  });

  it(
    'init → build from default with a step → a sandbox ' + 'of it has the file; a second build keeps the template',
    async () => {
      const d = dir('steps');
      assert.equal(
        (await cli(['template', 'init', '--name', 'with-file', '--cpu', '1', '--memory', '512'], d)).code,
        0,
      );
      appendFileSync(
        path.join(d, 'e2b.toml'),
        '\n[[steps]]\nname = "write"\ncommand = "mkdir -p /opt/data && echo built-by-step > /opt/data/marker.txt"\n',
      );
      const built = await cli(['template', 'build'], d);
      assert.equal(built.code, 0, built.stderr);
      const templateID = built.stdout.trim();
      made.push(templateID);
      assert.match(built.stderr, /\[1\/1\] RUN mkdir -p \/opt\/data/);
      assert.match(built.stderr, /build ready/);
      const toml = readFileSync(path.join(d, 'e2b.toml'), 'utf8');
      assert.match(toml, new RegExp(`^template_id = "${templateID}"$`, 'm'));
      const buildID = /^build_id = "([^"]+)"$/m.exec(toml)?.[1];
      assert.ok(buildID, toml);
      assert.match(toml, /\[\[steps\]\]\nname = "write"/); // the rest of the file is kept

      assert.equal(await inSandbox(templateID, 'cat /opt/data/marker.txt'), 'built-by-step\n');
      assert.equal(await inSandbox('with-file', 'cat /opt/data/marker.txt'), 'built-by-step\n');

      // Building again makes a new build of the same template (E2B's POST /v3/templates with an existing name).
      const rebuilt = await cli(['template', 'build', '--json'], d);
      assert.equal(rebuilt.code, 0, rebuilt.stderr);
      const out = JSON.parse(rebuilt.stdout);
      assert.equal(out.templateID, templateID);
      assert.notEqual(out.buildID, buildID);
      assert.equal(out.status, 'ready');
      assert.match(readFileSync(path.join(d, 'e2b.toml'), 'utf8'), new RegExp(`^build_id = "${out.buildID}"$`, 'm'));
    },
  );

  it('builds a Dockerfile with COPY of context files, ENV and WORKDIR (.dockerignore respected)', async () => {
    const d = dir('dockerfile');
    writeFileSync(path.join(d, 'hello.txt'), 'hello from the context\n');
    writeFileSync(path.join(d, 'secret.txt'), 'do not upload\n');
    writeFileSync(path.join(d, '.dockerignore'), 'secret.txt\n');
    writeFileSync(path.join(d, 'run.sh'), '#!/bin/sh\necho "run: $GREETING"\n');
    writeFileSync(
      path.join(d, 'Dockerfile'),
      [
        'FROM default',
        'ARG WHO=world',
        'ENV GREETING="hello $WHO"',
        'WORKDIR /app',
        'COPY hello.txt ./',
        'COPY --chmod=0755 run.sh /usr/local/bin/run.sh',
        'RUN cat hello.txt > copied.txt && echo "$GREETING" > greeting.txt',
        '',
      ].join('\n'),
    );
    const init = await cli(
      ['template', 'init', '--name', 'from-dockerfile', '--dockerfile', 'Dockerfile', '--cpu', '1', '--memory', '512'],
      d,
    );
    assert.equal(init.code, 0, init.stderr);
    assert.match(readFileSync(path.join(d, 'e2b.toml'), 'utf8'), /^dockerfile = "Dockerfile"$/m);
    const built = await cli(['template', 'build'], d);
    assert.equal(built.code, 0, built.stderr);
    const templateID = built.stdout.trim();
    made.push(templateID);
    assert.match(built.stderr, /uploaded the build context/);
    assert.match(built.stderr, /\[\d+\/\d+\] COPY hello\.txt/);

    const out = await inSandbox(
      templateID,
      'cat /app/hello.txt /app/copied.txt /app/greeting.txt; echo "env: $GREETING"; run.sh; test -e /app/secret.txt ' +
        '&& echo leaked || echo no-secret',
    );
    assert.equal(
      out,
      'hello from the context\nhello from the context\nhello world\nenv: hello world\nrun: hello world\nno-secret\n',
    );
    assert.equal(await inSandbox(templateID, 'pwd'), '/app\n');

    // The same context again is not uploaded again (content-addressed).
    const again = await cli(['template', 'build', '--no-wait'], d);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /build context unchanged/);
    const buildID = /^build_id = "([^"]+)"$/m.exec(readFileSync(path.join(d, 'e2b.toml'), 'utf8'))![1];
    await Template.waitForBuild(templateID, buildID, { ...s.conn, timeoutMs: 300_000 });
  });

  it('a Dockerfile error names its line before anything is built', async () => {
    const d = dir('bad-dockerfile');
    writeFileSync(path.join(d, 'Dockerfile'), 'FROM default\nRUN true\nVOLUME /data\n');
    writeFileSync(path.join(d, 'e2b.toml'), 'name = "bad-dockerfile"\ndockerfile = "Dockerfile"\n');
    const r = await cli(['template', 'build'], d);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /Dockerfile line 3: VOLUME is not supported/);
    const id = /^template_id = "([^"]+)"$/m.exec(readFileSync(path.join(d, 'e2b.toml'), 'utf8'))?.[1];
    if (id) made.push(id);
  });

  it('a failing step exits non-zero naming the step and its exit code', async () => {
    const d = dir('failing');
    writeFileSync(
      path.join(d, 'e2b.toml'),
      'name = "failing"\nfrom_template = "default"\ncpu_count = 1\nmemory_mb = 512\n\n[[steps]]\nname = ' +
        '"fine"\ncommand = "true"\n\n[[steps]]\nname = "boom"\ncommand = "echo about to fail; exit 3"\n',
    );
    const r = await cli(['template', 'build'], d);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /about to fail/); // the step's output was streamed
    assert.match(r.stderr, /tensor-box: build \S+ failed: .*boom.*exit code 3/);
    assert.equal(r.stdout, '');
    const templateID = /^template_id = "([^"]+)"$/m.exec(readFileSync(path.join(d, 'e2b.toml'), 'utf8'))![1];
    made.push(templateID);
    const info = JSON.parse((await cli(['template', 'get', templateID, '--json'], d)).stdout);
    assert.equal(info.builds[0].status, 'error');
    assert.equal(info.builds[0].reason.step, 'boom');
    assert.equal(info.builds[0].reason.exitCode, 3);
  });

  it('invalid TOML and unknown keys are reported with their line (and column)', async () => {
    const d = dir('invalid');
    writeFileSync(path.join(d, 'e2b.toml'), 'name = "x"\ncpu_count = = 2\n');
    const r = await cli(['template', 'build'], d);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /e2b\.toml:2:\d+: invalid TOML/);
    writeFileSync(path.join(d, 'other.toml'), 'name = "x"\n\ncpus = 2\n');
    const k = await cli(['template', 'build', '--config', 'other.toml'], d);
    assert.equal(k.code, 2);
    assert.match(k.stderr, /other\.toml:3: unknown key 'cpus'/);
    const none = await cli(['template', 'build'], dir('empty'));
    assert.equal(none.code, 2);
    assert.match(none.stderr, /e2b\.toml not found; create one with: tensor-box template init/);
  });

  it('list, get, base-images, delete', async () => {
    const d = dir('crud');
    writeFileSync(path.join(d, 'e2b.toml'), 'name = "to-delete"\ncpu_count = 1\nmemory_mb = 512\n');
    const built = await cli(['template', 'build'], d);
    assert.equal(built.code, 0, built.stderr);
    const id = built.stdout.trim();

    const list = await cli(['template', 'ls', '--json'], d);
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout).find((t: any) => t.templateID === id);
    assert.ok(listed, list.stdout);
    assert.ok(listed.names.includes('to-delete'), listed.names);
    assert.equal(listed.buildStatus, 'ready');
    assert.match((await cli(['template', 'list'], d)).stdout, new RegExp(`${id}\\s+to-delete\\s+ready`));

    const got = JSON.parse((await cli(['template', 'info', 'to-delete', '--json'], d)).stdout);
    assert.equal(got.templateID, id);
    assert.equal(got.builds.length, 1);
    assert.equal(got.builds[0].status, 'ready');
    const table = await cli(['template', 'get', id], d);
    assert.match(table.stdout, /status\s+ready/);
    assert.match(table.stdout, /builds:\nBUILD ID/);

    const bases = await cli(['template', 'bases', '--json'], d);
    assert.equal(bases.code, 0, bases.stderr);
    assert.ok(Array.isArray(JSON.parse(bases.stdout)));

    const noYes = await cli(['template', 'delete', id], d);
    assert.equal(noYes.code, 2);
    assert.match(noYes.stderr, /--yes/);
    const del = await cli(['template', 'rm', id, '--yes'], d);
    assert.equal(del.code, 0, del.stderr);
    assert.equal((await cli(['template', 'get', id], d)).code, 3);
    assert.equal((await cli(['template', 'delete', id, '--yes'], d)).code, 3);
  });
});

describe('Template (SDK)', () => {
  it('uploadFiles is content-addressed; getBuildLogs pages by offset; exists', async () => {
    const { templateID, buildID } = await Template.create({ name: 'sdk-upload', cpuCount: 1, memoryMB: 512 }, s.conn);
    made.push(templateID);
    const ctx = mkdtempSync(path.join(work, 'ctx-'));
    writeFileSync(path.join(ctx, 'a.txt'), 'from the tar\n');
    const tarFile = path.join(work, 'sdk-upload.tar');
    await run('tar', ['-cf', tarFile, '-C', ctx, 'a.txt']);
    const first = await Template.uploadFiles(templateID, tarFile, s.conn);
    assert.match(first.hash, /^[0-9a-f]{64}$/);
    assert.equal(first.uploaded, true);
    const second = await Template.uploadFiles(templateID, readFileSync(tarFile), s.conn);
    assert.deepEqual(second, { hash: first.hash, uploaded: false });

    await Template.startBuild(
      templateID,
      buildID,
      {
        fromTemplate: 'default',
        steps: [
          { type: 'COPY', args: ['a.txt', '/opt/a.txt'], filesHash: first.hash },
          { name: 'show', command: 'cat /opt/a.txt' },
        ],
      },
      s.conn,
    );
    const seen: string[] = [];
    const done = await Template.waitForBuild(templateID, buildID, {
      ...s.conn,
      intervalMs: 200,
      onLog: (e) => seen.push(e.message),
    });
    assert.equal(done.status, 'ready');
    assert.ok(seen.includes('from the tar'), seen.join('\n'));
    const all = await Template.getBuildLogs(templateID, buildID, s.conn);
    assert.equal(all.nextOffset, all.logs.length);
    const tail = await Template.getBuildLogs(templateID, buildID, { ...s.conn, offset: all.logs.length - 1 });
    assert.deepEqual(
      tail.logs.map((l) => l.message),
      [all.logs.at(-1)!.message],
    );
    assert.equal(tail.nextOffset, all.logs.length);
    assert.ok(await Template.exists('sdk-upload', s.conn));
    assert.equal(await Template.exists('no-such-template', s.conn), false);
  });

  it('sandbox.commitAsTemplate waits for the build; the new template has the files', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
    try {
      await sbx.files.write('/home/user/committed.txt', 'committed\n');
      const tpl = await sbx.commitAsTemplate('committed', { cpuCount: 1, memoryMB: 512, diskGB: 2 });
      made.push(tpl.templateID);
      assert.equal(tpl.status, 'ready');
      assert.equal((await sbx.commands.run('echo still running')).stdout, 'still running\n');
      assert.equal(await inSandbox(tpl.templateID, 'cat /home/user/committed.txt'), 'committed\n');
      const noWait = await sbx.commitAsTemplate('committed-nowait', { wait: false });
      made.push(noWait.templateID);
      assert.ok(['building', 'waiting', 'ready'].includes(noWait.status), noWait.status);
      await Template.waitForBuild(noWait.templateID, noWait.buildID, s.conn);
    } finally {
      await sbx.kill();
    }
  });
});
