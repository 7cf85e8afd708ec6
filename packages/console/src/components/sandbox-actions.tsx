/**
 * Lifecycle actions on one sandbox — pause, resume, set timeout, kill — as buttons with their dialogs. Used by the
 * list (compact) and the sandbox page. `onDone` refreshes whoever shows the sandbox.
 */
import { useState } from 'react';
import { Sandbox, type SandboxState } from 'tensor-box';
import { conn } from '../lib/api';
import { Button, ErrorMessage } from './ui';
import { ConfirmDialog, Dialog } from './dialog';

export function SandboxActions({
  sandboxId,
  state,
  compact,
  onDone,
  onKilled,
}: {
  sandboxId: string;
  state: SandboxState;
  compact?: boolean;
  onDone: () => void;
  onKilled?: () => void;
}) {
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [dialog, setDialog] = useState<'timeout' | 'kill'>();
  const [timeoutSec, setTimeoutSec] = useState('300');

  const act = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(what);
    setError(undefined);
    try {
      await fn();
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };
  const label = (s: string) => (compact ? undefined : s);

  return (
    <div className={`actions ${compact ? 'actions-compact' : ''}`}>
      {state === 'running' ? (
        <Button
          icon="pause"
          busy={busy === 'pause'}
          title="Pause"
          aria-label="Pause"
          onClick={() => act('pause', () => Sandbox.pause(sandboxId, conn()))}
        >
          {label(busy === 'pause' ? 'Pausing…' : 'Pause')}
        </Button>
      ) : (
        <Button
          icon="play"
          busy={busy === 'resume'}
          title="Resume"
          aria-label="Resume"
          onClick={() => act('resume', () => Sandbox.resume(sandboxId, conn()))}
        >
          {label(busy === 'resume' ? 'Resuming…' : 'Resume')}
        </Button>
      )}
      <Button
        icon="clock"
        title="Set timeout"
        aria-label="Set timeout"
        disabled={state !== 'running'}
        onClick={() => setDialog('timeout')}
      >
        {label('Timeout')}
      </Button>
      <Button
        icon="trash"
        variant={compact ? 'secondary' : 'danger'}
        className={compact ? 'danger-hover' : ''}
        busy={busy === 'kill'}
        title="Kill"
        aria-label="Kill"
        onClick={() => setDialog('kill')}
      >
        {label('Kill')}
      </Button>
      {error ? (
        <div className="actions-error">
          <ErrorMessage error={error} onDismiss={() => setError(undefined)} />
        </div>
      ) : null}
      {dialog === 'timeout' && (
        <Dialog
          title="Set timeout"
          submitLabel="Set timeout"
          onClose={() => setDialog(undefined)}
          onSubmit={async () => {
            const s = Number(timeoutSec);
            if (!Number.isInteger(s) || s < 0 || s > 86400)
              throw new Error('The timeout is a whole number of seconds from 0 to 86400.');
            await Sandbox.setTimeout(sandboxId, s * 1000, conn());
            setDialog(undefined);
            onDone();
          }}
        >
          <p className="muted">
            The sandbox ends this long from now unless something uses it (inactivity timeout); it may shorten its life.
          </p>
          <label className="field">
            <span>Seconds from now</span>
            <input
              name="timeout"
              type="number"
              min={0}
              max={86400}
              value={timeoutSec}
              onChange={(e) => setTimeoutSec(e.target.value)}
              autoFocus
            />
          </label>
        </Dialog>
      )}
      {dialog === 'kill' && (
        <ConfirmDialog
          title="Kill sandbox"
          confirmLabel="Kill"
          message={
            <>
              Kill <code>{sandboxId}</code>? Its processes and files are gone for good.
            </>
          }
          onClose={() => setDialog(undefined)}
          onConfirm={async () => {
            await Sandbox.kill(sandboxId, conn());
            setDialog(undefined);
            (onKilled ?? onDone)();
          }}
        />
      )}
    </div>
  );
}
