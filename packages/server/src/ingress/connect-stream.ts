/**
 * Relays a Connect streaming response (`application/connect+json|proto`) from the sandbox agent envelope by envelope,
 * so that when the connection to the sandbox ends early (the sandbox was killed or paused mid-command) the client still
 * gets a well-formed stream: every whole message, then an end-of-stream message with the error E2B's edge sends in
 * that case — `unavailable` "the connection to sandbox <id> ended before the stream completed". The stock SDKs read
 * that as "probe the sandbox", and the probe (`/health`) then says whether it was killed. A message cut in half is
 * dropped rather than forwarded half.
 *
 * Envelope: 1 flag byte (0x02 = end of stream, its payload is JSON `{error?, metadata?}`), 4 bytes big-endian length,
 * then the payload.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const HEADER_BYTES = 5;
const END_STREAM_FLAG = 0x02;

export function isConnectStream(contentType: string | undefined): boolean {
  return /^application\/connect\+/i.test(contentType ?? '');
}

/** The end-of-stream envelope carrying a Connect error. */
export function endStreamError(code: string, message: string): Buffer {
  const payload = Buffer.from(JSON.stringify({ error: { code, message } }));
  const head = Buffer.alloc(HEADER_BYTES);
  head[0] = END_STREAM_FLAG;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Pipes up to res; resolves when res is finished or destroyed. */
export function relayConnectStream(up: IncomingMessage, res: ServerResponse, sandboxId: string): Promise<void> {
  return new Promise((resolve) => {
    let pending: Buffer = Buffer.alloc(0);
    let ended = false; // the agent's own end-of-stream message went through
    let done = false;
    const finish = (tail?: Buffer) => {
      if (done) return;
      done = true;
      if (tail && !res.destroyed) res.end(tail);
      else res.end();
      resolve();
    };
    up.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let whole = 0;
      while (pending.length - whole >= HEADER_BYTES) {
        const size = HEADER_BYTES + pending.readUInt32BE(whole + 1);
        if (pending.length - whole < size) break;
        if (pending[whole] & END_STREAM_FLAG) ended = true;
        whole += size;
      }
      if (whole === 0) return;
      const out = pending.subarray(0, whole);
      pending = pending.subarray(whole);
      if (!res.write(out)) {
        up.pause();
        res.once('drain', () => up.resume());
      }
    });
    const cut = () => {
      if (ended && pending.length === 0) return finish();
      finish(endStreamError('unavailable', `the connection to sandbox ${sandboxId} ended before the stream completed`));
    };
    up.on('end', cut);
    up.on('error', cut);
    up.on('close', cut);
    res.on('close', () => {
      if (!done) {
        done = true;
        up.destroy();
        resolve();
      }
    });
  });
}
