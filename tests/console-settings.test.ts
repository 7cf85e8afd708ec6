/**
 * The console's settings page in a real browser (Playwright + Debian's Chromium, as tests/console.test.ts): signed in
 * with a team key it shows that team's quotas and usage and its keys; a new key is shown once and works; revoking it
 * removes it and the server refuses it. Signed in with the admin key it also lists every team.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { api, startTestServer, type TestServer } from './helpers/harness.js';
import { makeTeam, type TeamKey } from './helpers/teams.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

let s: TestServer;
let browser: Browser;
let team: TeamKey;

before(async () => {
  assert.ok(
    existsSync(path.join(ROOT, 'packages/console/dist/index.html')),
    'the console is not built: run bash scripts/setup.sh',
  );
  s = await startTestServer();
  team = await makeTeam(s, 'console-team');
  await api(s, 'PATCH', `/teams/${team.teamID}`, { quotas: { maxRunningSandboxes: 7 } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});
after(async () => {
  await browser?.close().catch(() => {});
  await s?.close();
});

async function signIn(key: string): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1366, height: 768 } })).newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(`${s.url}/`);
  await page.fill('input[name=apiKey]', key);
  await page.click('button[type=submit]');
  await page.getByRole('heading', { name: 'Sandboxes' }).waitFor();
  await page.click('a[href$="/settings"]');
  await page.getByRole('heading', { name: 'Settings' }).waitFor();
  return page;
}

describe('console settings', () => {
  it('a team key: its quotas, a new key shown once that works, revoke', async () => {
    const page = await signIn(team.key);
    await page.locator('[data-quota=maxRunningSandboxes]').filter({ hasText: '7' }).waitFor();
    assert.equal(await page.locator('[data-testid=teams-table]').count(), 0, 'a team key sees no list of teams');
    await page.locator(`[data-key-id="${team.keyId}"]`).waitFor();

    await page.getByRole('button', { name: 'New key' }).click();
    await page.fill('input[name=key-name]', 'from-console');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = (await page.locator('[data-testid=new-key] code').getAttribute('title')) ?? '';
    assert.match(shown, /^e2b_[0-9a-f]{32}$/);
    assert.equal((await api({ url: s.url, apiKey: shown }, 'GET', '/v2/sandboxes')).status, 200);

    const id = (await api({ url: s.url, apiKey: team.key }, 'GET', '/api-keys')).body.find(
      (k: any) => k.name === 'from-console',
    ).id;
    await page
      .locator(`[data-key-id="${id}"]`)
      .getByRole('button', { name: /Revoke/ })
      .click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.locator(`[data-key-id="${id}"]`).waitFor({ state: 'detached' });
    assert.equal((await api({ url: s.url, apiKey: shown }, 'GET', '/v2/sandboxes')).status, 401);
  });

  it('the admin key also lists every team', async () => {
    const page = await signIn(s.apiKey);
    await page.locator('[data-testid=teams-table]').filter({ hasText: 'console-team' }).waitFor();
  });
});
