/**
 * The API reference a running server publishes: /openapi.json and /openapi.yaml are spec/openapi.yaml without an API
 * key, /docs/api renders it with Redoc served by the server itself (checked in headless Chromium: the operations show
 * up and no request leaves the server's origin), and the console links to it. Abuse: other methods, look-alike and
 * traversal paths, and API routes next to the public documents still need the key.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { chromium, type Browser } from 'playwright-core';
import { startTestServer, type TestServer } from './helpers/harness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SPEC_YAML = readFileSync(`${ROOT}/spec/openapi.yaml`, 'utf8');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

let s: TestServer;
let browser: Browser | undefined;

before(async () => {
  s = await startTestServer();
});
after(async () => {
  await browser?.close().catch(() => {});
  await s?.close();
});

describe('API reference', () => {
  it('serves the OpenAPI document as JSON and YAML without an API key', async () => {
    const json = await fetch(`${s.url}/openapi.json`);
    assert.equal(json.status, 200);
    assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await json.json(), YAML.parse(SPEC_YAML));
    const yaml = await fetch(`${s.url}/openapi.yaml`);
    assert.equal(yaml.status, 200);
    assert.match(yaml.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.equal(await yaml.text(), SPEC_YAML);
    const head = await fetch(`${s.url}/openapi.json`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers.get('content-length')) > 1000);
  });

  it('serves the reference page and the Redoc bundle from this server only', async () => {
    const page = await fetch(`${s.url}/docs/api`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    assert.match(html, /<redoc spec-url="\/openapi.json"/);
    assert.match(html, /<script src="\/docs\/api\/redoc.standalone.js">/);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'no resource from another origin');
    const bundle = await fetch(`${s.url}/docs/api/redoc.standalone.js`);
    assert.equal(bundle.status, 200);
    assert.match(bundle.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.ok((await bundle.arrayBuffer()).byteLength > 500_000, 'the whole standalone bundle');
  });

  it('keeps everything else as it was: other methods, look-alike paths, API routes with their key', async () => {
    const json = { 'content-type': 'application/json' };
    const post = await fetch(`${s.url}/openapi.json`, { method: 'POST', body: '{}', headers: json });
    assert.notEqual(post.status, 200);
    const body = await post.json();
    assert.equal(typeof body.code, 'number');
    assert.equal(typeof body.message, 'string');
    const lookAlikes = [
      '/openapi.json/x',
      '/docs/api/redoc.standalone.js/..%2f..%2fpackage.json',
      '/docs/api/%2e%2e/%2e%2e/package.json',
      '/docs/api/redoc.standalone.js.map',
      '/openapi.yml',
    ];
    for (const p of lookAlikes) {
      const r = await fetch(`${s.url}${p}`, { headers: { accept: 'application/json' } });
      const text = await r.text();
      assert.doesNotMatch(text, /"name": "@tensor-box|\/\/# sourceMappingURL|"sources":/, `${p} leaks nothing`);
      assert.ok(!(r.status === 200 && /openapi: 3/.test(text)), `${p} is not the spec`);
    }
    const list = await fetch(`${s.url}/v2/sandboxes`);
    assert.equal(list.status, 401, 'the API still wants its key');
    const withKey = await fetch(`${s.url}/v2/sandboxes`, { headers: { 'X-API-Key': s.apiKey } });
    assert.equal(withKey.status, 200);
  });

  it('renders the operations in a browser, fetches nothing from elsewhere, is linked from the console', async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
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
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(30_000);
    // Redoc's sidebar credit points an <img> at its CDN; the page's CSP must stop it before it leaves the browser.
    const foreign: string[] = [];
    const origin = new URL(s.url).origin;
    const isForeign = (url: string) =>
      !['data:', 'blob:'].includes(new URL(url).protocol) && new URL(url).origin !== origin;
    page.on('response', (r) => isForeign(r.url()) && foreign.push(`answered: ${r.url()}`));
    page.on('requestfinished', (r) => isForeign(r.url()) && foreign.push(`fetched: ${r.url()}`));
    page.on('requestfailed', (r) => {
      const why = r.failure()?.errorText ?? '';
      if (isForeign(r.url()) && !/^csp$|BLOCKED_BY_CSP/.test(why)) foreign.push(`tried: ${r.url()} (${why})`);
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${s.url}/docs/api`);
    await page
      .getByRole('heading', { name: /Tensor Box API/ })
      .first()
      .waitFor();
    const dom = await page.content();
    assert.match(dom, /List running sandboxes/, 'operations from the spec are rendered');
    assert.match(dom, /\/v2\/sandboxes/);
    if (process.env.API_DOCS_SHOT) await page.screenshot({ path: process.env.API_DOCS_SHOT });
    await page.waitForTimeout(500);
    assert.deepEqual(foreign, []);
    assert.deepEqual(errors, []);

    // The console's sidebar links here.
    await page.goto(`${s.url}/`);
    await page.fill('input[name=apiKey]', s.apiKey);
    await page.keyboard.press('Enter');
    const link = page.getByTestId('api-reference');
    await link.waitFor();
    assert.equal(await link.getAttribute('href'), '/docs/api');
  });
});
