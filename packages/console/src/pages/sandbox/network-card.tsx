/**
 * Network card of the Info tab: whether the sandbox's ports are public, and its egress rules (allowOut/denyOut), which
 * can be edited while it runs (`sandbox.updateNetwork`: the new rules replace the old ones at once).
 */
import { useState } from 'react';
import { useSandbox } from '../../lib/use-sandbox';
import { Button, Card, ErrorMessage } from '../../components/ui';
import type { SandboxDetail } from './sandbox-page';

const lines = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((l) => l.trim())
    .filter(Boolean);

export function NetworkCard({ detail: d, onSaved }: { detail: SandboxDetail; onSaved: () => void }) {
  const net = d.network ?? {};
  const [editing, setEditing] = useState(false);
  const [allow, setAllow] = useState((net.allowOut ?? []).join('\n'));
  const [deny, setDeny] = useState((net.denyOut ?? []).join('\n'));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const { sandbox } = useSandbox(d.sandboxID);
  const save = async () => {
    if (!sandbox) return;
    setBusy(true);
    setError(undefined);
    try {
      await sandbox.updateNetwork({ allowOut: lines(allow), denyOut: lines(deny) });
      setEditing(false);
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const edit =
    d.state === 'running' && !editing ? (
      <Button icon="edit" title="Edit egress rules" aria-label="Edit egress rules" onClick={() => setEditing(true)} />
    ) : null;
  const list = (v?: string[]) =>
    v?.length ? v.map((e) => <code key={e}>{e} </code>) : <span className="muted">none</span>;
  return (
    <Card title="Network" actions={edit}>
      <dl className="dl">
        <div>
          <dt>Public traffic</dt>
          <dd>{net.allowPublicTraffic === false ? 'no — ports need the traffic access token' : 'yes'}</dd>
        </div>
        {editing ? (
          <div className="card-pad" data-testid="network-editor">
            <label className="field">
              <span>Allow out (addresses, CIDRs, host names; one per line — allow wins over deny)</span>
              <textarea aria-label="Allow out" rows={3} value={allow} onChange={(e) => setAllow(e.target.value)} />
            </label>
            <label className="field">
              <span>Deny out (addresses, CIDRs; 0.0.0.0/0 = everything not allowed)</span>
              <textarea aria-label="Deny out" rows={3} value={deny} onChange={(e) => setDeny(e.target.value)} />
            </label>
            <ErrorMessage error={error} />
            <div className="actions-row">
              <Button variant="primary" busy={busy} onClick={() => void save()}>
                Save rules
              </Button>
              <Button onClick={() => setEditing(false)}>Cancel</Button>
            </div>
          </div>
        ) : (
          <>
            <div>
              <dt>Allow out</dt>
              <dd data-testid="allow-out">{list(net.allowOut)}</dd>
            </div>
            <div>
              <dt>Deny out</dt>
              <dd data-testid="deny-out">{list(net.denyOut)}</dd>
            </div>
          </>
        )}
      </dl>
    </Card>
  );
}
