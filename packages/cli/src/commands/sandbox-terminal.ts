/**
 * `tensor-box sandbox terminal <id> [--shell PATH] [--user U]`: an interactive terminal in the sandbox, in the user's
 * own terminal — raw mode, the window size followed on resize, the local terminal restored at the end, and the exit
 * status of the shell passed through (Ctrl-D ends the shell like anywhere else).
 */
import { Sandbox } from 'tensor-box';
import type { Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

export const options = { shell: { type: 'string' }, user: { type: 'string' } } as const;

export async function run(ctx: Ctx, args: string[], flags: Record<string, any>): Promise<number> {
  if (args.length !== 1)
    throw new UsageError('usage: tensor-box sandbox terminal <sandboxId> [--shell /bin/bash] [--user user]');
  const sbx = await Sandbox.connect(args[0], ctx.conn);
  const size = () => ({ cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 });
  const pty = await sbx.pty.create({
    ...size(),
    cmd: flags.shell,
    user: flags.user,
    onData: (d) => void process.stdout.write(d),
  });
  const stdin = process.stdin;
  const raw = stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  const onInput = (d: Buffer) => void pty.sendInput(d).catch(() => {});
  const onResize = () => void pty.resize(size()).catch(() => {});
  stdin.on('data', onInput);
  stdin.resume();
  process.stdout.on('resize', onResize);
  // Keep the sandbox alive while someone is typing in it.
  const keepAlive = setInterval(() => void sbx.keepAlive(60_000).catch(() => {}), 30_000);
  try {
    return await pty.exited;
  } finally {
    clearInterval(keepAlive);
    process.stdout.off('resize', onResize);
    stdin.off('data', onInput);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  }
}
