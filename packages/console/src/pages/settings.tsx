/**
 * Settings: the signed-in key's team — its quotas and usage, and its API keys (create: the key is shown once with a
 * copy button; revoke: at once). The admin key also sees every team.
 */
import { useState } from 'react';
import { ok, rest, type Schemas } from '../lib/api';
import { usePoll } from '../lib/use-poll';
import { dateTime, relative } from '../lib/format';
import { Button, Card, ErrorMessage, Id, Loading, PageHeader } from '../components/ui';
import { ConfirmDialog, Dialog } from '../components/dialog';

const QUOTAS: { quota: keyof Schemas['TeamQuotas']; used: keyof Schemas['TeamUsage']; label: string }[] = [
  { quota: 'maxRunningSandboxes', used: 'runningSandboxes', label: 'Running sandboxes' },
  { quota: 'maxVcpus', used: 'vcpus', label: 'vCPUs of running sandboxes' },
  { quota: 'maxMemoryMB', used: 'memoryMB', label: 'Memory of running sandboxes (MiB)' },
  { quota: 'maxDiskMB', used: 'diskMB', label: 'Paused images and snapshots (MiB)' },
  { quota: 'maxTemplates', used: 'templates', label: 'Templates' },
];

function Quotas({ team }: { team: Schemas['TeamDetail'] }) {
  return (
    <table className="table" data-testid="quota-table">
      <thead>
        <tr>
          <th>Quota</th>
          <th className="right">Used</th>
          <th className="right">Limit</th>
        </tr>
      </thead>
      <tbody>
        {QUOTAS.map((q) => (
          <tr key={q.quota} data-quota={q.quota}>
            <td>{q.label}</td>
            <td className="right">{team.usage[q.used]}</td>
            <td className="right">{team.quotas[q.quota]}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Keys({
  keys,
  onCreate,
  onRevoke,
}: {
  keys: Schemas['TeamAPIKey'][];
  onCreate: () => void;
  onRevoke: (k: Schemas['TeamAPIKey']) => void;
}) {
  return (
    <Card
      title={`API keys (${keys.length})`}
      actions={
        <Button icon="plus" onClick={onCreate}>
          New key
        </Button>
      }
    >
      <table className="table" data-testid="keys-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Key</th>
            <th className="hide-sm">Created</th>
            <th className="hide-sm">Last used</th>
            <th className="right">Actions</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.id} data-key-id={k.id}>
              <td>{k.name}</td>
              <td>
                <code>{k.mask}</code>
              </td>
              <td className="hide-sm" title={dateTime(k.createdAt)}>
                {relative(k.createdAt)}
              </td>
              <td className="hide-sm">{k.lastUsed ? relative(k.lastUsed) : <span className="muted">never</span>}</td>
              <td className="right">
                <Button
                  icon="trash"
                  className="danger-hover"
                  aria-label={`Revoke ${k.name}`}
                  onClick={() => onRevoke(k)}
                >
                  Revoke
                </Button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

export function SettingsPage() {
  const team = usePoll(async () => ok(await rest().GET('/teams/current')), 10_000, []);
  const keys = usePoll(async () => ok(await rest().GET('/api-keys')), 10_000, []);
  const teams = usePoll(
    async () => {
      const r = await rest().GET('/teams');
      return r.response.status === 403 ? undefined : ok(r); // a team key: no list of teams
    },
    30_000,
    [],
  );
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<Schemas['CreatedTeamAPIKey']>();
  const [revoking, setRevoking] = useState<Schemas['TeamAPIKey']>();
  return (
    <>
      <PageHeader
        title="Settings"
        subtitle={
          team.data ? `Team ${team.data.name} (${team.data.teamID})` : 'Your team, its quotas and its API keys.'
        }
      />
      <ErrorMessage error={team.error ?? keys.error ?? teams.error} />
      {created && (
        <Card title="New API key — copy it now, it is not shown again">
          <div data-testid="new-key">
            <Id value={created.key} />
          </div>
          <Button onClick={() => setCreated(undefined)}>Done</Button>
        </Card>
      )}
      {!team.data ? (
        team.loading ? (
          <Loading />
        ) : null
      ) : (
        <Card title="Quotas and usage">
          <Quotas team={team.data} />
        </Card>
      )}
      {keys.data && <Keys keys={keys.data} onCreate={() => setCreating(true)} onRevoke={setRevoking} />}
      {teams.data && (
        <Card title={`All teams (${teams.data.length})`}>
          <table className="table" data-testid="teams-table">
            <tbody>
              {teams.data.map((t) => (
                <tr key={t.teamID}>
                  <td>{t.name}</td>
                  <td>
                    <Id value={t.teamID} short />
                  </td>
                  <td className="hide-sm">{relative(t.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
      {creating && (
        <Dialog
          title="New API key"
          submitLabel="Create key"
          onClose={() => setCreating(false)}
          onSubmit={async () => {
            setCreated(ok(await rest().POST('/api-keys', { body: { name: name || 'key' } })));
            setCreating(false);
            setName('');
            await keys.refresh();
          }}
        >
          <label className="field">
            <span>Name</span>
            <input
              name="key-name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="ci"
              maxLength={100}
            />
          </label>
        </Dialog>
      )}
      {revoking && (
        <ConfirmDialog
          title="Revoke API key"
          confirmLabel="Revoke"
          message={
            <>
              Revoke <code>{revoking.name}</code> ({revoking.mask})? Requests with it fail from now on and its open
              terminals close.
            </>
          }
          onClose={() => setRevoking(undefined)}
          onConfirm={async () => {
            ok(await rest().DELETE('/api-keys/{apiKeyID}', { params: { path: { apiKeyID: revoking.id } } }));
            setRevoking(undefined);
            await keys.refresh();
          }}
        />
      )}
    </>
  );
}
