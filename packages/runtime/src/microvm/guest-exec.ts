/**
 * Runs one command in a guest through its agent (envd's Connect `process.Process/Start`, JSON codec, as root) and
 * collects its output. The driver uses it only before the control plane's /init (no access token yet): to give a VM
 * restored from a template snapshot its own hostname and the current time. `connectRequest`/`parseConnectStream`
 * are shared with the tests, which call the agent through curl to stay synchronous.
 */
import http from 'node:http';

export interface GuestResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The enveloped Connect request body for `bash -c <cmd>`. */
export function connectRequest(cmd: string): Buffer {
  const json = Buffer.from(JSON.stringify({ process: { cmd: '/bin/sh', args: ['-c', cmd] }, stdin: false }));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

export const CONNECT_HEADERS = {
  'Content-Type': 'application/connect+json',
  'Connect-Protocol-Version': '1',
  Authorization: `Basic ${Buffer.from('root:').toString('base64')}`,
};

/** Decodes a Connect server stream of process events into the command's result. */
export function parseConnectStream(body: Buffer): GuestResult {
  const out: GuestResult = { exitCode: -1, stdout: '', stderr: '' };
  for (let i = 0; i + 5 <= body.length; ) {
    const flags = body[i];
    const len = body.readUInt32BE(i + 1);
    const msg = JSON.parse(body.subarray(i + 5, i + 5 + len).toString('utf8')) as {
      event?: { data?: { stdout?: string; stderr?: string }; end?: { exitCode?: number; status?: string } };
      error?: { message?: string };
    };
    i += 5 + len;
    if (flags & 2) {
      if (msg.error) throw new Error(`agent: ${msg.error.message ?? 'error'}`);
      continue;
    }
    const ev = msg.event;
    if (ev?.data?.stdout) out.stdout += Buffer.from(ev.data.stdout, 'base64').toString('utf8');
    if (ev?.data?.stderr) out.stderr += Buffer.from(ev.data.stderr, 'base64').toString('utf8');
    if (ev?.end) out.exitCode = ev.end.exitCode ?? 0;
  }
  return out;
}

export function guestExec(envdUrl: string, cmd: string, timeoutMs = 10_000): Promise<GuestResult> {
  return new Promise((resolve, reject) => {
    const body = connectRequest(cmd);
    const req = http.request(
      `${envdUrl}/process.Process/Start`,
      {
        method: 'POST',
        agent: false,
        timeout: timeoutMs,
        headers: { ...CONNECT_HEADERS, 'Content-Length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            if (res.statusCode !== 200) throw new Error(`agent answered ${res.statusCode}`);
            resolve(parseConnectStream(Buffer.concat(chunks)));
          } catch (err) {
            reject(err as Error);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`agent did not finish '${cmd}' in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
