/**
 * Directory watching over WebSocket: `GET /sandboxes/{id}/files/watch?path=&recursive=&user=` upgraded to a WebSocket.
 * The server sends JSON text frames: `{"type":"start"}` once the watch is set, then
 * `{"type":"event","event":{"type":"create|write|remove|rename|chmod","name","path"}}`; on failure
 * `{"type":"error","code","message"}` and a close with code 4000+HTTP status. Closing the socket removes the watcher.
 */
import path from 'node:path';
import type { WebSocket } from 'ws';
import { Filesystem, EventType } from '@tensor-box/generated/envd/filesystem';
import type { SandboxRecord } from '../store/store.js';
import { envdHeaders, envdRpc, fromEnvdError } from '../services/envd-rpc.js';

const TYPES: Record<number, string> = {
  [EventType.CREATE]: 'create',
  [EventType.WRITE]: 'write',
  [EventType.REMOVE]: 'remove',
  [EventType.RENAME]: 'rename',
  [EventType.CHMOD]: 'chmod',
};

export async function handleWatch(ws: WebSocket, s: SandboxRecord, q: URLSearchParams): Promise<void> {
  const dir = q.get('path');
  const send = (v: unknown) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(v));
  if (!dir) {
    send({ type: 'error', code: 400, message: 'path is required' });
    return void ws.close(4400, 'path is required');
  }
  const controller = new AbortController();
  ws.on('close', () => controller.abort());
  const rpc = envdRpc(Filesystem, s);
  try {
    const stream = rpc.watchDir(
      { path: dir, recursive: q.get('recursive') === 'true' || q.get('recursive') === '1' },
      {
        headers: { ...envdHeaders(s, q.get('user') || undefined), 'Keepalive-Ping-Interval': '30' },
        signal: controller.signal,
      },
    );
    for await (const r of stream) {
      const ev = r.event;
      if (ev.case === 'start') send({ type: 'start' });
      else if (ev.case === 'filesystem') {
        const name = ev.value.name;
        send({
          type: 'event',
          event: { type: TYPES[ev.value.type] ?? 'unknown', name, path: path.posix.join(dir, name) },
        });
      }
    }
    ws.close(1000, 'watch ended');
  } catch (err) {
    if (controller.signal.aborted) return;
    const e = fromEnvdError(err);
    send({ type: 'error', code: e.status, message: e.message });
    ws.close(4000 + Math.min(999, e.status), e.message.slice(0, 100));
  }
}
