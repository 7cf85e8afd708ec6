/**
 * Terminal over WebSocket: `GET /sandboxes/{id}/pty?cols=&rows=&cmd=&user=&cwd=[&pid=]` upgraded to a WebSocket.
 * Frames: binary from the client = keystrokes; text from the client = JSON `{"type":"resize","cols":N,"rows":N}` or
 * `{"type":"input","data":"…"}`; binary to the client = terminal output; text to the client =
 * `{"type":"started","pid"}` and `{"type":"exit","exitCode"}`. A dropped socket kills its shell after a grace period
 * (`ptyGraceMs()`: 30 s, or `TENSOR_BOX_PTY_GRACE_MS`), during which `?pid=` re-attaches (the console reconnects this
 * way).
 */
import type { WebSocket } from 'ws';
import { Process, Signal } from '@tensor-box/generated/envd/process';
import type { SandboxRecord } from '../store/store.js';
import { envdHeaders, envdRpc, fromEnvdError } from '../services/envd-rpc.js';

/** How long a terminal outlives its dropped WebSocket (re-attach window). */
export const ptyGraceMs = () => Number(process.env.TENSOR_BOX_PTY_GRACE_MS) || 30_000;
const pendingKills = new Map<string, NodeJS.Timeout>();

function sendJson(ws: WebSocket, v: unknown) {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(v));
}

export async function handlePty(ws: WebSocket, s: SandboxRecord, q: URLSearchParams): Promise<void> {
  const rpc = envdRpc(Process, s);
  const user = q.get('user') || undefined; // none: the sandbox's default user
  const headers = envdHeaders(s, user);
  const cols = Math.min(1000, Math.max(1, Number(q.get('cols')) || 80));
  const rows = Math.min(1000, Math.max(1, Number(q.get('rows')) || 24));
  const controller = new AbortController();
  const reattach = q.get('pid');
  let pid = reattach ? Number(reattach) : 0;

  const stream = reattach
    ? rpc.connect({ process: { selector: { case: 'pid', value: pid } } }, { headers, signal: controller.signal })
    : rpc.start(
        {
          process: {
            cmd: q.get('cmd') || '/bin/bash',
            args: q.get('cmd') ? [] : ['-i', '-l'],
            envs: { TERM: 'xterm-256color' },
            cwd: q.get('cwd') || undefined,
          },
          pty: { size: { cols, rows } },
        },
        { headers, signal: controller.signal },
      );

  const key = () => `${s.sandboxId}:${pid}`;
  // Client frames are applied in the order they came (a resize then keystrokes must not overtake each other).
  let queue = Promise.resolve();
  ws.on('message', (data, isBinary) => {
    queue = queue.then(() => onFrame(data as Buffer, isBinary));
  });
  const onFrame = async (data: Buffer, isBinary: boolean) => {
    try {
      if (!pid) return;
      if (isBinary) {
        await rpc.sendInput(
          {
            process: { selector: { case: 'pid', value: pid } },
            input: { input: { case: 'pty', value: new Uint8Array(data) } },
          },
          { headers },
        );
        return;
      }
      const msg = JSON.parse(String(data));
      if (msg.type === 'resize') {
        await rpc.update(
          {
            process: { selector: { case: 'pid', value: pid } },
            pty: { size: { cols: Number(msg.cols), rows: Number(msg.rows) } },
          },
          { headers },
        );
      } else if (msg.type === 'input') {
        await rpc.sendInput(
          {
            process: { selector: { case: 'pid', value: pid } },
            input: { input: { case: 'pty', value: new TextEncoder().encode(String(msg.data)) } },
          },
          { headers },
        );
      }
    } catch (err) {
      const e = fromEnvdError(err);
      sendJson(ws, { type: 'error', code: e.status, message: e.message });
    }
  };

  let ended = false;
  ws.on('close', () => {
    controller.abort();
    if (ended || !pid) return;
    const timer = setTimeout(() => {
      pendingKills.delete(key());
      rpc
        .sendSignal({ process: { selector: { case: 'pid', value: pid } }, signal: Signal.SIGKILL }, { headers })
        .catch(() => {});
    }, ptyGraceMs());
    timer.unref();
    pendingKills.set(key(), timer);
  });

  try {
    for await (const r of stream) {
      const ev = r.event?.event;
      if (ev?.case === 'start') {
        pid = ev.value.pid || pid;
        clearTimeout(pendingKills.get(key()));
        pendingKills.delete(key());
        sendJson(ws, { type: 'started', pid });
      } else if (ev?.case === 'data' && ev.value.output.case === 'pty') {
        if (ws.readyState === ws.OPEN) ws.send(ev.value.output.value, { binary: true });
      } else if (ev?.case === 'end') {
        ended = true;
        sendJson(ws, { type: 'exit', exitCode: ev.value.exitCode, error: ev.value.error });
        ws.close(1000, 'process exited');
      }
    }
  } catch (err) {
    if (controller.signal.aborted) return;
    const e = fromEnvdError(err);
    sendJson(ws, { type: 'error', code: e.status, message: e.message });
    ws.close(4000 + Math.min(999, e.status), e.message.slice(0, 100));
  }
}
