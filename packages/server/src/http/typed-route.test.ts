/**
 * The typed route table (typed-route.ts) rejects at compile time what the spec does not define: the TypeScript
 * compiler runs on small probe files and must report each mistake (an unknown path, a path under the wrong method,
 * a body field, a path parameter or a query parameter the operation lacks) and accept a correct row. Also: a row
 * calls its handler with the request context.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileErrors } from '../../../../tests/helpers/compile-probe.js';
import { op } from './typed-route.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const errorsOf = (codes: string[]) =>
  compileErrors(`import { op } from '${path.join(HERE, 'typed-route.js')}';`, codes);

const GOOD = `export const r = op('POST', '/sandboxes/{sandboxID}/timeout', async (c) => {
  const id: string = c.params.sandboxID;
  const timeoutSec: number = c.body.timeout;
  return { status: 204, body: { id, timeoutSec } };
});
export const l = op('GET', '/v2/sandboxes', (c) => ({ status: 200, body: c.query.limit ?? c.query.state }));`;

const BAD: Array<[string, RegExp]> = [
  [`op('POST', '/no/such/path', () => ({ status: 200 }))`, /not assignable to parameter of type 'PathsFor<"POST">'/],
  [`op('PUT', '/sandboxes/{sandboxID}/timeout', () => ({ status: 200 }))`, /PathsFor<"PUT">/],
  [`op('POST', '/sandboxes/{sandboxID}/timeout', (c) => ({ status: 200, body: c.body.nope }))`, /'nope'/],
  [`op('GET', '/sandboxes/{sandboxID}', (c) => ({ status: 200, body: c.params.teamID }))`, /'teamID'/],
  [`op('GET', '/v2/sandboxes', (c) => ({ status: 200, body: c.query.bogus }))`, /'bogus'/],
  [`op('POST', '/sandboxes/{sandboxID}/refreshes', (c) => ({ status: 200, body: c.body.duration }))`, /undefined/],
];

describe('typed route table', () => {
  it('accepts a row that matches the spec and rejects what the spec does not define', () => {
    const [good, ...bad] = errorsOf([GOOD, ...BAD.map(([code]) => code)]);
    assert.deepEqual(good, []);
    BAD.forEach(([code, want], i) => {
      assert.ok(
        bad[i].some((e) => want.test(e)),
        `${code}\n  expected an error matching ${want}, got: ${bad[i]}`,
      );
    });
  });

  it('calls the handler with the request context', async () => {
    const row = op('GET', '/sandboxes/{sandboxID}', (c) => ({ status: 200, body: c.params.sandboxID }));
    assert.equal(row.method, 'GET');
    assert.equal(row.path, '/sandboxes/{sandboxID}');
    const reply = await row.handler({ params: { sandboxID: 'sbx1' }, query: {}, body: undefined, req: {} as never });
    assert.deepEqual(reply, { status: 200, body: 'sbx1' });
  });
});
