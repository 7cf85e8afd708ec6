/**
 * Sandboxes: a live list (every 2 s) with filters by state and metadata, the latest CPU and memory sample of each,
 * lifecycle actions per row and the "New sandbox" dialog.
 */
import { useState } from 'react';
import { Sandbox, type SandboxInfo, type SandboxState } from 'tensor-box';
import { conn, ok, rest, type Schemas } from '../lib/api';
import { usePoll } from '../lib/use-poll';
import { bytes, mib, parsePairs, relative } from '../lib/format';
import { navigate } from '../lib/router';
import { Badge, Button, Chips, Empty, ErrorMessage, Id, Loading, PageHeader } from '../components/ui';
import { Link } from '../components/layout';
import { SandboxActions } from '../components/sandbox-actions';
import { CreateSandboxDialog } from './create-sandbox';

type Row = SandboxInfo & { usage?: Schemas['SandboxMetric'] };
const STATES: { value: string; label: string }[] = [
  { value: '', label: 'All' },
  { value: 'running', label: 'Running' },
  { value: 'paused', label: 'Paused' },
];

async function load(state: string, metadata: string): Promise<Row[]> {
  const md = parsePairs(metadata);
  const list = await Sandbox.list({
    ...conn(),
    query: {
      state: state ? [state as SandboxState] : ['running', 'paused'],
      metadata: Object.keys(md).length ? md : undefined,
    },
  });
  const running = list.filter((s) => s.state === 'running').map((s) => s.sandboxId);
  let usage: Record<string, Schemas['SandboxMetric']> = {};
  if (running.length) {
    const r = await rest().GET('/sandboxes/metrics', {
      params: { query: { sandbox_ids: running.slice(0, 100) } },
      querySerializer: { array: { style: 'form', explode: false } },
    });
    usage = ok(r).sandboxes;
  }
  return list
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime())
    .map((s) => ({ ...s, usage: usage[s.sandboxId] }));
}

export function SandboxesPage() {
  const [state, setState] = useState('');
  const [metadata, setMetadata] = useState('');
  const [creating, setCreating] = useState(false);
  const list = usePoll(() => load(state, metadata), 2000, [state, metadata]);
  const rows = list.data;
  const now = Date.now();

  return (
    <>
      <PageHeader
        title="Sandboxes"
        subtitle="Isolated Linux sandboxes on this server, live."
        actions={
          <Button variant="primary" icon="plus" onClick={() => setCreating(true)}>
            New sandbox
          </Button>
        }
      />
      <div className="toolbar">
        <div className="segmented" role="group" aria-label="State">
          {STATES.map((s) => (
            <button
              type="button"
              key={s.value}
              className={state === s.value ? 'active' : ''}
              onClick={() => setState(s.value)}
            >
              {s.label}
            </button>
          ))}
        </div>
        <input
          className="search"
          name="metadataFilter"
          placeholder="Filter by metadata: key=value, key2=value2"
          value={metadata}
          onChange={(e) => setMetadata(e.target.value)}
        />
        <span className="muted count">{rows ? `${rows.length} sandbox${rows.length === 1 ? '' : 'es'}` : ''}</span>
      </div>
      <ErrorMessage error={list.error} />
      {!rows && list.loading ? (
        <Loading />
      ) : rows && rows.length === 0 ? (
        <Empty title={state || metadata ? 'No sandbox matches' : 'No sandboxes yet'}>
          {state || metadata
            ? 'Change the filters to see more.'
            : 'Create one from a template to get a shell, files and ports in seconds.'}
        </Empty>
      ) : rows ? (
        <div className="table-wrap">
          <table className="table table-cards" data-testid="sandboxes-table">
            <thead>
              <tr>
                <th>Sandbox</th>
                <th>Template</th>
                <th>State</th>
                <th className="hide-sm">Isolation</th>
                <th className="hide-sm">Started</th>
                <th>Ends</th>
                <th className="hide-sm">CPU · memory</th>
                <th className="hide-md">Metadata</th>
                <th className="right">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => (
                <tr
                  key={s.sandboxId}
                  data-sandbox-id={s.sandboxId}
                  className="clickable"
                  onClick={(e) =>
                    !(e.target as HTMLElement).closest('button,a,.dialog,.backdrop') &&
                    navigate(`/sandboxes/${s.sandboxId}/terminal`)
                  }
                >
                  <td className="cell-id">
                    <Link to={`/sandboxes/${s.sandboxId}/terminal`} className="strong mono">
                      {s.sandboxId}
                    </Link>
                  </td>
                  <td className="cell-template">{s.name ?? <Id value={s.templateId} short />}</td>
                  <td>
                    <Badge>{s.state}</Badge>
                  </td>
                  <td className="hide-sm cell-isolation">{s.isolation ?? 'container'}</td>
                  <td className="hide-sm cell-started" title={s.startedAt.toLocaleString()}>
                    {relative(s.startedAt, now)}
                  </td>
                  {s.state === 'running' ? (
                    <td className="cell-ends" title={s.endAt.toLocaleString()}>
                      <span className="cell-label">ends </span>
                      {relative(s.endAt, now)}
                    </td>
                  ) : (
                    <td
                      className="cell-ends muted"
                      title={
                        `The timeout does not run while paused; deleted ${s.endAt.toLocaleString()} unless ` + `resumed`
                      }
                    >
                      —
                    </td>
                  )}
                  <td className="hide-sm cell-usage">
                    <div className="usage">
                      <span className="usage-row">
                        <span className="usage-label">{s.cpuCount} vCPU</span>
                        {s.usage && <Meter pct={s.usage.cpuUsedPct} label={`${s.usage.cpuUsedPct.toFixed(0)}%`} />}
                      </span>
                      <span className="usage-row">
                        <span className="usage-label">{mib(s.memoryMB)}</span>
                        {s.usage && (
                          <Meter
                            pct={(100 * s.usage.memUsed) / (s.usage.memTotal || s.memoryMB * 2 ** 20)}
                            label={bytes(s.usage.memUsed)}
                          />
                        )}
                      </span>
                    </div>
                  </td>
                  <td className="hide-md cell-metadata">
                    <Chips values={s.metadata} />
                  </td>
                  <td className="right cell-actions">
                    <SandboxActions
                      compact
                      sandboxId={s.sandboxId}
                      state={s.state}
                      onDone={() => void list.refresh()}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {creating && <CreateSandboxDialog onClose={() => setCreating(false)} />}
    </>
  );
}

function Meter({ pct, label }: { pct: number; label?: string }) {
  const p = Math.max(0, Math.min(100, pct));
  return (
    <span className="meter-wrap">
      <span className="meter">
        <span className={`meter-fill ${p > 85 ? 'hot' : ''}`} style={{ width: `${p}%` }} />
      </span>
      {label && <span className="muted small">{label}</span>}
    </span>
  );
}
