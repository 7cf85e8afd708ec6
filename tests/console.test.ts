/**
 * The web console end to end: a real server in this process serves the built console (packages/console/dist, built by
 * scripts/setup.sh) and Playwright drives Debian's Chromium through it as a person would — a wrong key is refused
 * with a message, sign-in, create a sandbox, `echo hello` in the terminal, a chart gaining points, upload/download,
 * folders, logs with a level filter, open ports, pause/resume (the terminal re-attaches to its shell), templates and a
 * build log, snapshots, kill. Screenshots of each page go to a temporary folder, or to docs/console/ with
 * UPDATE_SCREENSHOTS=1 (how the ones in the docs were made).
 * Over 400 lines on purpose: one browser session walks the console in order, as a person would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Sandbox, Volume } from 'tensor-box';
import { api, httpGet, run, startTestServer, type TestServer } from './helpers/harness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? path.join(ROOT, 'docs', 'console')
  : mkdtempSync(path.join(os.tmpdir(), 'tb-console-shots-'));
const WIDE = { width: 1366, height: 768 };
const NARROW = { width: 420, height: 860 };

let s: TestServer;
let browser: Browser;
let page: Page;
let sandboxId: string;
const snapshots: string[] = [];

const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
/** Text of the terminal's rows (xterm's DOM renderer), one line each. */
const terminalLines = () =>
  page.$$eval('[data-testid=terminal] .xterm-rows > div', (rows) => rows.map((r) => (r.textContent ?? '').trimEnd()));
async function waitForTerminalLine(line: string) {
  await page.waitForFunction(
    (want) =>
      [...document.querySelectorAll('[data-testid=terminal] .xterm-rows > div')].some(
        (r) => (r.textContent ?? '').trim() === want,
      ),
    line,
    { timeout: 20_000 },
  );
}
const tab = (name: string) => page.click(`[data-testid=tab-${name}]`);

before(async () => {
  assert.ok(
    existsSync(path.join(ROOT, 'packages/console/dist/index.html')),
    'the console is not built: run bash scripts/setup.sh',
  );
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: packages/runtime/setup.sh installs Debian's chromium`);
  mkdirSync(SHOTS, { recursive: true });
  s = await startTestServer({ metricsIntervalMs: 300 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright gives every launch a fresh profile (--user-data-dir). A closed network: no background traffic
    // (updates, sync, QUIC probes) that would only fail.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: WIDE, acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
});

after(async () => {
  await browser?.close().catch(() => {});
  for (const id of snapshots) await api(s, 'DELETE', `/snapshots/${id}`).catch(() => {});
  await s?.close();
  if (!process.env.UPDATE_SCREENSHOTS) rmSync(SHOTS, { recursive: true, force: true });
});

describe('web console', () => {
  it('is served at / without shadowing the API', async () => {
    const html = await fetch(`${s.url}/dashboard/sandboxes/whatever/terminal`, { headers: { accept: 'text/html' } });
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await html.text(), /<div id="root">/);
    assert.match(html.headers.get('cache-control') ?? '', /no-cache/);
    // API paths answer JSON even when a browser asks for a page.
    const list = await fetch(`${s.url}/sandboxes`, { headers: { accept: 'text/html' } });
    assert.equal(list.status, 401);
    assert.match(list.headers.get('content-type') ?? '', /application\/json/);
    const unknown = await fetch(`${s.url}/v2/nothing-here`, { headers: { accept: 'application/json' } });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).code, 404);
    const index = await (await fetch(`${s.url}/`, { headers: { accept: 'text/html' } })).text();
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(index)?.[1];
    assert.ok(js, 'index.html names its script');
    const script = await fetch(`${s.url}${js}`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    assert.match(script.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await fetch(`${s.url}/assets/missing.js`, { headers: { accept: 'text/html' } })).status, 404);
  });

  it('refuses a wrong API key with a message, then signs in', async () => {
    await page.goto(`${s.url}/`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await shot('sign-in');
    await page.fill('input[name=apiKey]', 'e2b_00000000000000000000000000000000');
    await page.click('button[type=submit]');
    await page
      .getByRole('alert')
      .filter({ hasText: /refused this API key/ })
      .waitFor();
    await shot('sign-in-error');
    await page.fill('input[name=apiKey]', s.apiKey);
    await page.click('button[type=submit]');
    await page.getByRole('heading', { name: 'Sandboxes' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/dashboard/sandboxes');
  });

  it('creates a sandbox from a template with timeout, metadata and env', async () => {
    await page.getByRole('button', { name: 'New sandbox' }).click();
    await page.fill('input[name=template]', 'default');
    await page.fill('.dialog input[name=timeout]', '600');
    await page.fill('input[name=metadata-key-0]', 'owner');
    await page.fill('input[name=metadata-value-0]', 'console-test');
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.fill('input[name=env-key-0]', 'GREETING');
    await page.fill('input[name=env-value-0]', 'from-the-console');
    await shot('create-dialog');
    await page.getByRole('button', { name: 'Create sandbox' }).click();
    await page.waitForURL(/\/dashboard\/sandboxes\/[a-z0-9]+\/terminal$/, { timeout: 30_000 });
    sandboxId = new URL(page.url()).pathname.split('/')[3];
    const info = await Sandbox.getInfo(sandboxId, s.conn);
    assert.deepEqual(info.metadata, { owner: 'console-test' });
    assert.ok(info.endAt.getTime() - Date.now() > 500_000, 'timeout of 600 s');
  });

  it('terminal: echo hello shows hello; the environment is there', async () => {
    await page.locator('[data-testid=terminal-status]', { hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    await page.click('[data-testid=terminal]');
    await page.keyboard.type('echo hello\n');
    await waitForTerminalLine('hello');
    await page.keyboard.type('echo "$GREETING"\n');
    await waitForTerminalLine('from-the-console');
    await shot('terminal');
  });

  it('monitoring: the charts gain points without a reload', async () => {
    // Some load, so the charts have something to show: a CPU burn and 200 MiB held for a few seconds.
    const sbx = await Sandbox.connect(sandboxId, { ...s.conn, timeoutMs: 0 });
    (
      await sbx.commands.run(
        `timeout 2 sh -c 'while :; do :; done'; python3 -c "b = bytearray(200 << 20); import time; time.sleep(10)"`,
        { background: true },
      )
    ).disconnect();
    await tab('monitoring');
    const points = () => page.$eval('[data-testid=chart-cpu]', (el) => Number((el as HTMLElement).dataset.points));
    await page.locator('[data-testid=chart-cpu]').waitFor();
    const before = await points();
    await page.waitForFunction(
      (n) => Number((document.querySelector('[data-testid=chart-cpu]') as HTMLElement).dataset.points) >= n + 2,
      before,
      { timeout: 20_000 },
    );
    assert.ok((await points()) >= before + 2);
    await page
      .locator('.stat', { hasText: 'Memory' })
      .getByText(/^(1\d\d|2\d\d) MiB$/)
      .waitFor({ timeout: 20_000 }); // the 200 MiB shows
    assert.ok(Number(await page.$eval('[data-testid=chart-memory]', (el) => (el as HTMLElement).dataset.points)) > 0);
    // Cards and charts come from one series: each card shows its chart's last point (read in one go, one render).
    const pairs = await page.evaluate(() =>
      ['cpu', 'memory', 'disk'].map((k) => ({
        k,
        card: document.querySelector(`[data-testid=stat-${k}-value]`)?.textContent,
        chart: (document.querySelector(`[data-testid=chart-${k}]`) as HTMLElement | null)?.dataset.last,
      })),
    );
    for (const p of pairs) assert.ok(p.card && p.card === p.chart, `${p.k}: card ${p.card} vs chart ${p.chart}`);
    // The memory chart's y scale (as uPlot drew it) reaches its latest value; it once topped out far below the card.
    await page
      .waitForFunction(
        () => {
          const d = (document.querySelector('[data-testid=chart-memory]') as HTMLElement).dataset;
          return Number(d.lastRaw) > 0 && Number(d.yMax) >= Number(d.lastRaw);
        },
        undefined,
        { timeout: 10_000 },
      )
      .catch(async () => {
        const d = await page.$eval('[data-testid=chart-memory]', (el) => ({ ...(el as HTMLElement).dataset }));
        assert.fail(`memory chart drawn below its latest point: ${JSON.stringify(d)}`);
      });
    // The disk's size is a limit of a sparse disk, not space it takes.
    assert.match((await page.textContent('[data-testid=stat-disk]')) ?? '', /limit/);
    await shot('monitoring');
  });

  it('files: upload, open, download, create a folder, delete', async () => {
    await tab('files');
    await page.locator('[data-testid=files-table]').waitFor();
    const text = `hello from the console ${Date.now()}\nsecond line\n`;
    await page.setInputFiles('[data-testid=upload-input]', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(text),
    });
    await page.locator('tr[data-name="notes.txt"]').waitFor();
    const sbx = await Sandbox.connect(sandboxId, { ...s.conn, timeoutMs: 0 });
    assert.equal(await sbx.files.read('/home/user/notes.txt'), text);

    await page.click('tr[data-name="notes.txt"] td:first-child');
    await page.locator('[data-testid=file-preview] pre', { hasText: 'second line' }).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-testid=file-preview]').getByRole('button', { name: 'Download' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'notes.txt');
    assert.equal(readFileSync((await download.path())!, 'utf8'), text);

    await page.getByRole('button', { name: 'New folder' }).click();
    await page.fill('input[name=folderName]', 'reports');
    await page.getByRole('button', { name: 'Create folder' }).click();
    await page.locator('tr[data-name="reports"]').waitFor();
    assert.ok(await sbx.files.exists('/home/user/reports'));
    await shot('files');

    await page.getByRole('button', { name: 'Delete reports' }).click();
    await page.locator('.dialog').getByRole('button', { name: 'Delete' }).click();
    await page.locator('tr[data-name="reports"]').waitFor({ state: 'detached' });
    assert.equal(await sbx.files.exists('/home/user/reports'), false);
  });

  it('set timeout, then logs: a live tail with a level filter', async () => {
    await page.locator('.sandbox-header').getByRole('button', { name: 'Set timeout' }).click();
    await page.fill('.dialog input[name=timeout]', '900');
    await page.locator('.dialog').getByRole('button', { name: 'Set timeout' }).click();
    await page.locator('.dialog').waitFor({ state: 'detached' });
    const info = await Sandbox.getInfo(sandboxId, s.conn);
    assert.ok(info.endAt.getTime() - Date.now() > 800_000, 'timeout of 900 s');

    await tab('logs');
    const view = page.locator('[data-testid=log-view]');
    await view.getByText(/sandbox created from template/).waitFor();
    await view.getByText('timeout set to 900000 ms').waitFor(); // a debug entry
    await shot('logs');
    await page.getByRole('group', { name: 'Minimum level' }).getByRole('button', { name: 'info+' }).click();
    await view.getByText(/sandbox created from template/).waitFor();
    assert.equal(await view.getByText('timeout set to 900000 ms').count(), 0);
    // Live: a new entry shows up without a reload.
    await Sandbox.setTimeout(sandboxId, 901_000, s.conn);
    await page.getByRole('group', { name: 'Minimum level' }).getByRole('button', { name: 'All' }).click();
    await view.getByText('timeout set to 901000 ms').waitFor();
  });

  it('info: details, metadata and a link to a listening port', async () => {
    const sbx = await Sandbox.connect(sandboxId, { ...s.conn, timeoutMs: 0 });
    (await sbx.commands.run('python3 -m http.server 8000', { background: true })).disconnect();
    const deadline = Date.now() + 20_000;
    while ((await httpGet(`${s.url}/`, sbx.getHost(8000))).status !== 200) {
      assert.ok(Date.now() < deadline, 'the server in the sandbox answers');
      await sleep(100);
    }
    await tab('info');
    await page.getByText('console-test').waitFor();
    const link = page.locator('[data-testid=ports] a', { hasText: `${sandboxId}-8000.` });
    await link.waitFor();
    const href = await link.getAttribute('href');
    assert.equal(href, `http://${sbx.getHost(8000)}`);
    await shot('info');
  });

  it('info: the network card shows and edits the egress rules', async () => {
    await page.getByRole('button', { name: 'Edit egress rules' }).click();
    const editor = page.locator('[data-testid=network-editor]');
    await editor.getByLabel('Allow out').fill('203.0.113.7\n*.example.test');
    await editor.getByLabel('Deny out').fill('0.0.0.0/0');
    await editor.getByRole('button', { name: 'Save rules' }).click();
    await page.locator('[data-testid=deny-out]', { hasText: '0.0.0.0/0' }).waitFor();
    const info = await fetch(`${s.url}/sandboxes/${sandboxId}`, { headers: { 'X-API-Key': s.apiKey } }).then((r) =>
      r.json(),
    );
    assert.deepEqual(info.network.allowOut, ['203.0.113.7', '*.example.test']);
    assert.deepEqual(info.network.denyOut, ['0.0.0.0/0']);
    // A bad entry shows the server's message and changes nothing.
    await page.getByRole('button', { name: 'Edit egress rules' }).click();
    await editor.getByLabel('Deny out').fill('example.test');
    await editor.getByRole('button', { name: 'Save rules' }).click();
    await editor.getByText(/host names are only allowed in allowOut/).waitFor();
    await editor.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Edit egress rules' }).click();
    await editor.getByLabel('Deny out').fill('');
    await editor.getByLabel('Allow out').fill('');
    await editor.getByRole('button', { name: 'Save rules' }).click();
    await page.locator('[data-testid=deny-out]', { hasText: 'none' }).waitFor();
  });

  it('pause and resume; the terminal re-attaches to its shell', async () => {
    await page.locator('.sandbox-header').getByRole('button', { name: 'Pause' }).click();
    await page.locator('.sandbox-header [data-state=paused]').waitFor({ timeout: 60_000 });
    assert.equal((await Sandbox.getInfo(sandboxId, s.conn)).state, 'paused');
    await tab('terminal');
    await page.locator('[data-testid=terminal-status]', { hasText: 'Paused' }).waitFor();
    await page.locator('.sandbox-header').getByRole('button', { name: 'Resume' }).click();
    await page.locator('.sandbox-header [data-state=running]').waitFor({ timeout: 60_000 });
    await page.locator('[data-testid=terminal-status]', { hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    assert.ok((await terminalLines()).includes('hello'), 'the scrollback is kept');
    await page.click('[data-testid=terminal]');
    await page.keyboard.type('echo "again $GREETING"\n');
    await waitForTerminalLine('again from-the-console');
  });

  it('templates: list, detail with builds and a live build log, delete', async () => {
    await page.click('nav[aria-label=Sections] >> text=Templates');
    const row = page.locator('[data-testid=templates-table] tr', { hasText: 'default' }).first();
    await row.waitFor();
    await shot('templates');
    // Deleting a template in use is refused, with the server's reason in the dialog.
    await row.getByRole('button', { name: /^Delete/ }).click();
    await page.locator('.dialog').getByRole('button', { name: 'Delete' }).click();
    await page.locator('.dialog [role=alert]').waitFor();
    await page.locator('.dialog').getByRole('button', { name: 'Cancel' }).click();

    const reg = await api(s, 'POST', '/v3/templates', { name: 'console-demo' });
    assert.equal(reg.status, 202, JSON.stringify(reg.body));
    const templateId = reg.body.templateID;
    await page.goto(`${s.url}/dashboard/templates/${templateId}`);
    await page.locator('[data-testid=builds-table]').waitFor();
    await page.locator('[data-testid=build-log]').getByText('Waiting for output').waitFor(); // registered, not started
    const start = await api(s, 'POST', `/v2/templates/${templateId}/builds/${reg.body.buildID}`, {
      fromTemplate: 'default',
      steps: [{ type: 'RUN', args: ['echo hi from the build'] }],
    });
    assert.equal(start.status, 202, JSON.stringify(start.body));
    await page
      .locator('[data-testid=build-log]')
      .getByText('hi from the build', { exact: true })
      .waitFor({ timeout: 90_000 });
    await page.locator('.sandbox-header [data-state=ready]').waitFor({ timeout: 90_000 });
    await shot('template-detail');
    await page.locator('.sandbox-header').getByRole('button', { name: 'Delete' }).click();
    await page.locator('.dialog').getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(/\/dashboard\/templates$/);
    assert.equal((await api(s, 'GET', `/templates/${templateId}`)).status, 404);
  });

  it('snapshots: list, start a sandbox from one, kill it', async () => {
    const snap = await api(s, 'POST', `/sandboxes/${sandboxId}/snapshots`, { name: 'console-demo' });
    assert.equal(snap.status, 201, JSON.stringify(snap.body));
    snapshots.push(snap.body.snapshotID);
    await page.click('nav[aria-label=Sections] >> text=Snapshots');
    const row = page.locator(`tr[data-snapshot-id="${snap.body.snapshotID}"]`);
    await row.waitFor();
    await shot('snapshots');
    await row.getByRole('button', { name: /Start a sandbox/ }).click();
    assert.equal(await page.inputValue('input[name=template]'), snap.body.snapshotID);
    await page.getByRole('button', { name: 'Create sandbox' }).click();
    await page.waitForURL(
      (u) => /\/dashboard\/sandboxes\/[a-z0-9]+\/terminal$/.test(u.pathname) && !u.pathname.includes(sandboxId),
      { timeout: 60_000 },
    );
    const copyId = new URL(page.url()).pathname.split('/')[3];
    // It continues from the snapshot: the same shell environment is there.
    await page.locator('[data-testid=terminal-status]', { hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    await page.locator('.sandbox-header').getByRole('button', { name: 'Kill' }).click();
    await page.locator('.dialog').getByRole('button', { name: 'Kill' }).click();
    await page.waitForURL(/\/dashboard\/sandboxes$/);
    await assert.rejects(Sandbox.getInfo(copyId, s.conn), /not found/i);
  });

  it('volumes: create one, browse its files, delete refused while a sandbox mounts it, then delete', async () => {
    await page.click('nav[aria-label=Sections] >> text=Volumes');
    await page.getByRole('button', { name: 'New volume' }).click();
    await page.fill('input[name=name]', 'console-vol');
    await page.fill('input[name=size]', '16');
    await page.getByRole('button', { name: 'Create volume' }).click();
    const row = page.locator('[data-testid=volumes-table] tr', { hasText: 'console-vol' });
    await row.waitFor();
    const vol = await Volume.get('console-vol', s.conn);
    await vol.writeFile('/hello.txt', 'hi');
    await row.getByRole('button', { name: 'Files of console-vol' }).click();
    await page.locator('[data-testid=volume-files]', { hasText: 'hello.txt (2 B)' }).waitFor();
    await page.locator('.dialog').getByRole('button', { name: 'Close' }).first().click();
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 60_000, volumeMounts: { '/mnt/v': vol } });
    try {
      await row.locator('td', { hasText: sbx.sandboxId }).waitFor({ timeout: 10_000 });
      await shot('volumes');
      await row.getByRole('button', { name: 'Delete console-vol' }).click();
      await page.locator('.dialog').getByRole('button', { name: 'Delete' }).click();
      await page.locator('.dialog', { hasText: 'is mounted by sandbox' }).waitFor();
      await page.keyboard.press('Escape');
    } finally {
      await sbx.kill();
    }
    await row.getByRole('button', { name: 'Delete console-vol' }).click();
    await page.locator('.dialog').getByRole('button', { name: 'Delete' }).click();
    await row.waitFor({ state: 'detached' });
    await page.click('nav[aria-label=Sections] >> text=Sandboxes'); // the next test starts on the list
  });

  it('sandboxes list: live usage, filters by state and metadata; narrow window; kill', async () => {
    // A second sandbox, paused, made through the SDK: the list picks it up by itself.
    const other = await Sandbox.create('default', {
      ...s.conn,
      timeoutMs: 120_000,
      metadata: { owner: 'agent-7', task: 'crawl' },
    });
    await other.pause();
    const row = page.locator(`tr[data-sandbox-id="${sandboxId}"]`);
    const otherRow = page.locator(`tr[data-sandbox-id="${other.sandboxId}"]`);
    await otherRow.locator('[data-state=paused]').waitFor();
    await row.locator('.meter').first().waitFor(); // live CPU/memory
    await shot('sandboxes');
    const states = page.getByRole('group', { name: 'State' });
    await states.getByRole('button', { name: 'Paused' }).click();
    await row.waitFor({ state: 'detached' });
    await otherRow.waitFor();
    await states.getByRole('button', { name: 'Running' }).click();
    await row.waitFor();
    await otherRow.waitFor({ state: 'detached' });
    await states.getByRole('button', { name: 'All' }).click();
    await otherRow.waitFor();
    await page.fill('input[name=metadataFilter]', 'owner=console-test');
    await otherRow.waitFor({ state: 'detached' });
    await row.waitFor();
    await page.fill('input[name=metadataFilter]', '');
    await otherRow.waitFor();

    await page.setViewportSize(NARROW);
    await shot('sandboxes-narrow');
    await page.goto(`${s.url}/dashboard/sandboxes/${sandboxId}/terminal`);
    await page.locator('[data-testid=terminal-status]', { hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    // The terminal follows the window: the shell sees the narrow size, then the wide one.
    let asked = 0;
    const sttySize = async () => {
      // The output line `size<n>=<rows> <cols>` is not the typed line (that has `$((n))`), and n is new each time.
      const n = ++asked;
      await page.click('[data-testid=terminal]');
      await page.keyboard.type(`clear; echo "size$((${n}))=$(stty size)"\n`);
      const handle = await page.waitForFunction((want) => {
        const rows = [...document.querySelectorAll('[data-testid=terminal] .xterm-rows > div')].map((r) =>
          (r.textContent ?? '').trim(),
        );
        const m = rows.map((r) => new RegExp(`^size${want}=(\\d+) (\\d+)$`).exec(r)).find(Boolean);
        return m ? Number(m[2]) : undefined;
      }, n);
      return (await handle.jsonValue()) as number;
    };
    const narrowCols = await sttySize();
    assert.ok(narrowCols > 20 && narrowCols < 60, `columns at 420 px: ${narrowCols}`);
    await shot('terminal-narrow');
    await page.setViewportSize(WIDE);
    const wideCols = await sttySize();
    assert.ok(wideCols > 100, `columns at 1366 px: ${wideCols}`);

    await page.click('nav[aria-label=Sections] >> text=Sandboxes');
    await row.getByRole('button', { name: 'Kill' }).click();
    await page.locator('.dialog').getByRole('button', { name: 'Kill' }).click();
    await row.waitFor({ state: 'detached' });
    await assert.rejects(Sandbox.getInfo(sandboxId, s.conn), /not found/i);
  });

  it('the console typechecks (its code and the SDK it bundles)', async () => {
    // tsc reports on stdout; send it to stderr so a failure's message carries it.
    await run('sh', [
      '-c',
      `"${path.join(ROOT, 'node_modules/.bin/tsc')}" -p "${path.join(ROOT, 'packages/console')}" >&2`,
    ]);
  });

  it('a page of a sandbox that is gone says so; sign-out returns to sign-in', async () => {
    await page.goto(`${s.url}/dashboard/sandboxes/${sandboxId}/terminal`);
    await page.getByText('This sandbox is gone').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });
});
