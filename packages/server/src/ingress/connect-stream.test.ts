/**
 * relayConnectStream between two real HTTP hops: an upstream that dies mid-message must still give the client every
 * whole message and then an end-of-stream `unavailable` error, never half a message or a cut chunked body.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { endStreamError, relayConnectStream } from './connect-stream.js';

function envelope(flags: number, json: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(json));
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Splits a Connect stream body into [flags, parsed JSON] pairs; throws on trailing bytes. */
function parse(body: Buffer): Array<[number, unknown]> {
  const out: Array<[number, unknown]> = [];
  let at = 0;
  while (at < body.length) {
    const size = body.readUInt32BE(at + 1);
    out.push([body[at], JSON.parse(body.subarray(at + 5, at + 5 + size).toString())]);
    at += 5 + size;
  }
  assert.equal(at, body.length, 'no partial message');
  return out;
}

let upstream: http.Server;
let front: http.Server;
let frontUrl: string;
before(async () => {
  // Upstream: /cut sends one message and half of the next, then drops the connection; /whole ends properly.
  upstream = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/connect+json' });
    const first = envelope(0, { event: { data: { stdout: 'aGk=' } } });
    if (req.url === '/whole') return void res.end(Buffer.concat([first, envelope(2, {})]));
    const second = envelope(0, { event: { data: { stdout: 'bG9zdA==' } } });
    res.write(Buffer.concat([first, second.subarray(0, 7)]));
    setTimeout(() => res.socket?.destroy(), 50);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upPort = (upstream.address() as AddressInfo).port;
  front = http.createServer((req, res) => {
    http.get({ host: '127.0.0.1', port: upPort, path: req.url }, (up) => {
      res.writeHead(up.statusCode ?? 502, { 'content-type': up.headers['content-type'] });
      void relayConnectStream(up, res, 'sbx1');
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
});
after(() => {
  upstream?.close();
  front?.close();
});

describe('relayConnectStream', () => {
  it('ends a cut stream with the whole messages and an unavailable end-of-stream', async () => {
    const res = await fetch(`${frontUrl}/cut`);
    const messages = parse(Buffer.from(await res.arrayBuffer()));
    assert.deepEqual(messages, [
      [0, { event: { data: { stdout: 'aGk=' } } }],
      [
        2,
        { error: { code: 'unavailable', message: 'the connection to sandbox sbx1 ended before the stream completed' } },
      ],
    ]);
  });

  it('passes a complete stream through unchanged', async () => {
    const res = await fetch(`${frontUrl}/whole`);
    assert.deepEqual(parse(Buffer.from(await res.arrayBuffer())), [
      [0, { event: { data: { stdout: 'aGk=' } } }],
      [2, {}],
    ]);
  });

  it('encodes the error envelope as Connect does', () => {
    assert.deepEqual(parse(endStreamError('unavailable', 'm')), [
      [2, { error: { code: 'unavailable', message: 'm' } }],
    ]);
  });
});
