/**
 * The edge table (edge-route.ts): binding handlers to the declared rows fails to compile when a handler is missing,
 * reads a path parameter its row lacks, or uses a caller its row's auth may not give; a correct binding compiles.
 * Matching: by kind, method ('*' for any) and path, in table order, and a `{sandboxID}` must have an ID's shape.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileErrors } from '../../../../tests/helpers/compile-probe.js';
import { EdgeTable, edgeRow } from './edge-route.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PRELUDE = `import { EdgeTable, edgeRow } from '${path.join(HERE, 'edge-route.js')}';
const rows = {
  a: edgeRow('http', 'GET', '/sandboxes/{sandboxID}/x', 'key-token-or-agent'),
  b: edgeRow('upgrade', '*', '/y', 'admin'),
};`;

const GOOD = `new EdgeTable(rows, {
  a: async (c, res) => void res.end(c.params.sandboxID + (c.caller?.keyId ?? '')),
  b: async (c, socket) => void socket.end(c.caller.keyId),
});`;

const BAD: Array<[string, RegExp]> = [
  [`new EdgeTable(rows, { a: async () => {} });`, /Property 'b' is missing/],
  [`new EdgeTable(rows, { a: async (c) => void c.params.volumeID, b: async () => {} });`, /'volumeID'/],
  [`new EdgeTable(rows, { a: async (c) => void c.caller.keyId, b: async () => {} });`, /possibly 'undefined'/],
];

describe('edge route table', () => {
  it('compiles a correct binding and rejects a missing handler, an unknown parameter, an unchecked caller', () => {
    const [good, ...bad] = compileErrors(PRELUDE, [GOOD, ...BAD.map(([code]) => code)]);
    assert.deepEqual(good, []);
    BAD.forEach(([code, want], i) => {
      assert.ok(
        bad[i].some((e) => want.test(e)),
        `${code}\n  expected an error matching ${want}, got: ${bad[i]}`,
      );
    });
  });

  it('matches by kind, method and path, with a sandbox ID shape for {sandboxID}', () => {
    const none = async () => {};
    const table = new EdgeTable(
      {
        get: edgeRow('http', 'GET', '/sandboxes/{sandboxID}/files', 'key-token-or-agent'),
        any: edgeRow('http', '*', '/files', 'signed-url'),
        ws: edgeRow('upgrade', '*', '/sandboxes/{sandboxID}/pty', 'key-or-token'),
      },
      { get: none, any: none, ws: none },
    );
    assert.deepEqual(table.match('http', 'GET', '/sandboxes/isbx1/files')?.params, { sandboxID: 'isbx1' });
    assert.equal(table.match('http', 'PUT', '/sandboxes/isbx1/files'), undefined);
    assert.equal(table.match('http', 'GET', '/sandboxes/NOT-AN-ID/files'), undefined);
    assert.equal(table.match('http', 'DELETE', '/files')?.row.path, '/files');
    assert.equal(table.match('http', 'GET', '/sandboxes/isbx1/pty'), undefined);
    assert.equal(table.match('upgrade', 'GET', '/sandboxes/isbx1/pty')?.row.auth, 'key-or-token');
    assert.equal(table.match('upgrade', 'GET', '/sandboxes/isbx1/pty/x'), undefined);
  });
});
