/**
 * "New sandbox" dialog: a template (or snapshot) with timeout, lifecycle on timeout, metadata and environment
 * variables; on success the sandbox's page opens.
 */
import { useState } from 'react';
import { Sandbox } from 'tensor-box';
import { conn, ok, rest } from '../lib/api';
import { usePoll } from '../lib/use-poll';
import { Dialog } from '../components/dialog';
import { KvEditor, toRecord, type Pair } from '../components/kv-editor';
import { navigate } from '../lib/router';

export function CreateSandboxDialog({ onClose, template: initial }: { onClose: () => void; template?: string }) {
  const templates = usePoll(async () => ok(await rest().GET('/templates')), 60_000, []);
  const [template, setTemplate] = useState(initial ?? 'default');
  const [timeoutSec, setTimeoutSec] = useState('300');
  const [onTimeout, setOnTimeout] = useState<'kill' | 'pause'>('kill');
  const [metadata, setMetadata] = useState<Pair[]>([{ key: '', value: '' }]);
  const [envs, setEnvs] = useState<Pair[]>([]);

  const submit = async () => {
    const s = Number(timeoutSec);
    if (!Number.isInteger(s) || s < 1 || s > 86400)
      throw new Error('The timeout is a whole number of seconds from 1 to 86400.');
    const sbx = await Sandbox.create(template.trim() || 'default', {
      ...conn(),
      timeoutMs: s * 1000,
      metadata: toRecord(metadata),
      envs: toRecord(envs),
      lifecycle: onTimeout === 'pause' ? { onTimeout: 'pause', autoResume: true } : undefined,
    });
    onClose();
    navigate(`/sandboxes/${sbx.sandboxId}/terminal`);
  };

  const names = (templates.data ?? [])
    .filter((t) => t.buildStatus === 'ready')
    .map((t) => t.names[0] ?? t.aliases[0] ?? t.templateID);
  if (initial && !names.includes(initial)) names.unshift(initial);
  return (
    <Dialog title="New sandbox" submitLabel="Create sandbox" onSubmit={submit} onClose={onClose} wide>
      <div className="form-grid">
        <label className="field">
          <span>Template</span>
          <input
            name="template"
            list="template-names"
            value={template}
            onChange={(e) => setTemplate(e.target.value)}
            placeholder="default"
          />
          <datalist id="template-names">
            {names.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
          <small className="muted">A template name or ID, or a snapshot ID.</small>
        </label>
        <label className="field">
          <span>Timeout (seconds)</span>
          <input
            name="timeout"
            type="number"
            min={1}
            max={86400}
            value={timeoutSec}
            onChange={(e) => setTimeoutSec(e.target.value)}
          />
          <small className="muted">Inactivity timeout; traffic to the sandbox extends it.</small>
        </label>
        <label className="field">
          <span>On timeout</span>
          <select name="onTimeout" value={onTimeout} onChange={(e) => setOnTimeout(e.target.value as 'kill' | 'pause')}>
            <option value="kill">Kill the sandbox</option>
            <option value="pause">Pause it (resumes on the next request)</option>
          </select>
        </label>
      </div>
      <KvEditor
        label="Metadata"
        name="metadata"
        pairs={metadata}
        onChange={setMetadata}
        keyPlaceholder="userId"
        valuePlaceholder="123"
      />
      <KvEditor
        label="Environment variables"
        name="env"
        pairs={envs}
        onChange={setEnvs}
        keyPlaceholder="API_TOKEN"
        valuePlaceholder="value"
      />
    </Dialog>
  );
}
