/**
 * Info tab: the sandbox's details, lifecycle, metadata, and links to the ports that listen in it (`getHost`, through
 * the server's ingress). Ports are read from /proc/net/tcp{,6} in the sandbox on opening and on Refresh (not polled:
 * agent traffic counts as activity and would keep the sandbox alive).
 */
import type { ReactNode } from 'react';
import type { Sandbox } from 'tensor-box';
import { useSandbox } from '../../lib/use-sandbox';
import { usePoll } from '../../lib/use-poll';
import { listeningPorts } from '../../lib/ports';
import { dateTime, mib, relative } from '../../lib/format';
import { Badge, Button, Card, Chips, Empty, ErrorMessage, Id, Loading } from '../../components/ui';
import { Icon } from '../../components/icons';
import type { SandboxDetail } from './sandbox-page';
import { NetworkCard } from './network-card';

export function InfoTab({ detail: d, onChanged }: { detail: SandboxDetail; onChanged?: () => void }) {
  const rows: [string, ReactNode][] = [
    ['Sandbox ID', <Id value={d.sandboxID} />],
    [
      'Template',
      d.alias && d.alias !== d.templateID ? (
        <>
          {d.alias}{' '}
          <span className="muted">
            (<code>{d.templateID}</code>)
          </span>
        </>
      ) : (
        <Id value={d.templateID} />
      ),
    ],
    ['State', <Badge>{d.state}</Badge>],
    ['Isolation', d.isolation === 'microvm' ? 'microVM (own kernel)' : 'container (shared kernel)'],
    ['Started', `${dateTime(d.startedAt)} (${relative(d.startedAt)})`],
    ['Ends', `${dateTime(d.endAt)} (${relative(d.endAt)})`],
    ['CPU', `${d.cpuCount} vCPU`],
    ['Memory', mib(d.memoryMB)],
    ['Disk', mib(d.diskSizeMB)],
    ['Agent (envd)', d.envdVersion],
    ['Internet access', d.allowInternetAccess === false ? 'off' : 'on'],
  ];
  return (
    <div className="info-grid">
      <Card title="Details">
        <dl className="dl">
          {rows.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      </Card>
      <div className="stack">
        <Card title="Lifecycle">
          <dl className="dl">
            <div>
              <dt>On timeout</dt>
              <dd>{d.lifecycle?.onTimeout === 'pause' ? 'pause (memory and processes kept)' : 'kill'}</dd>
            </div>
            <div>
              <dt>Auto-resume</dt>
              <dd>{d.lifecycle?.autoResume ? 'yes — wakes on the next request' : 'no'}</dd>
            </div>
          </dl>
        </Card>
        <NetworkCard detail={d} onSaved={() => onChanged?.()} />
        <Card title="Metadata">
          <div className="card-pad">
            <Chips values={d.metadata ?? {}} />
          </div>
        </Card>
        {d.state === 'running' ? (
          <Ports sandboxId={d.sandboxID} />
        ) : (
          <Card title="Open ports">
            <p className="card-pad muted">The sandbox is paused.</p>
          </Card>
        )}
      </div>
    </div>
  );
}

function Ports({ sandboxId }: { sandboxId: string }) {
  const { sandbox, error } = useSandbox(sandboxId);
  if (error || !sandbox) return <Card title="Open ports">{error ? <ErrorMessage error={error} /> : <Loading />}</Card>;
  return <PortList sandbox={sandbox} />;
}

function PortList({ sandbox }: { sandbox: Sandbox }) {
  const ports = usePoll(
    async () => {
      const r = await sandbox.commands.run('cat /proc/net/tcp /proc/net/tcp6 2>/dev/null || true', {
        timeoutMs: 10_000,
      });
      return listeningPorts(r.stdout);
    },
    0,
    [sandbox.sandboxId],
  );
  const refresh = (
    <Button
      icon="refresh"
      title="Refresh"
      aria-label="Refresh ports"
      busy={ports.loading}
      onClick={() => void ports.refresh()}
    />
  );
  return (
    <Card title="Open ports" actions={refresh}>
      {ports.error ? (
        <ErrorMessage error={ports.error} />
      ) : !ports.data ? (
        <Loading />
      ) : !ports.data.length ? (
        <Empty icon="external" title="No port is listening">
          Start a server in the sandbox (e.g. <code>python3 -m http.server 8000</code>) and refresh.
        </Empty>
      ) : (
        <ul className="ports" data-testid="ports">
          {ports.data.map((p) => {
            const url = `${location.protocol}//${sandbox.getHost(p.port)}`;
            return (
              <li key={p.port}>
                <span className="mono strong">{p.port}</span>
                {p.loopbackOnly ? (
                  <span className="muted small">listens on 127.0.0.1 only — not reachable from outside</span>
                ) : (
                  <a href={url} target="_blank" rel="noreferrer" className="mono">
                    {sandbox.getHost(p.port)} <Icon name="external" size={13} />
                  </a>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </Card>
  );
}
