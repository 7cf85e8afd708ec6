/**
 * Running the few host tools the image module needs (mknod, setfattr, cp, sync) with errors that say which tool failed,
 * what for, and — when it is missing — that packages/runtime/setup.sh installs it.
 */
import { spawn } from 'node:child_process';
import { DriverError } from '../driver.js';

/** Runs `cmd args`; rejects with `DriverError('failed_precondition')` naming `why` when it is missing or fails. */
export function runTool(cmd: string, args: string[], why: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-4000)));
    child.on('error', (err) =>
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new DriverError(
              'failed_precondition',
              `${cmd} is not installed (packages/runtime/setup.sh installs it); it is needed for ${why}`,
            )
          : err,
      ),
    );
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new DriverError('failed_precondition', `${cmd} failed (exit ${code}) for ${why}: ${stderr.trim()}`)),
    );
  });
}
