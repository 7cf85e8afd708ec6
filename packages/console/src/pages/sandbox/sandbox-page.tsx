/**
 * One sandbox: a header with its state and lifecycle actions, then tabs — Terminal, Monitoring, Files, Logs, Info.
 * The detail is polled every 2 s; a sandbox that is gone (killed, timed out) says so instead of a broken page. Tabs
 * that need the agent wait while the sandbox is paused (the terminal re-attaches to its shell after a resume).
 */
import { useEffect, useState } from 'react';
import { NotFoundError } from 'tensor-box';
import { ok, rest, type Schemas } from '../../lib/api';
import { usePoll } from '../../lib/use-poll';
import { mib, relative } from '../../lib/format';
import { navigate } from '../../lib/router';
import { Badge, Empty, ErrorMessage, Id, Loading, Notice } from '../../components/ui';
import { Link } from '../../components/layout';
import { SandboxActions } from '../../components/sandbox-actions';
import { TerminalTab } from './terminal-tab';
import { MonitoringTab } from './monitoring-tab';
import { FilesTab } from './files-tab';
import { LogsTab } from './logs-tab';
import { InfoTab } from './info-tab';

const TABS = [
  { id: 'terminal', label: 'Terminal' },
  { id: 'monitoring', label: 'Monitoring' },
  { id: 'files', label: 'Files' },
  { id: 'logs', label: 'Logs' },
  { id: 'info', label: 'Info' },
];

export type SandboxDetail = Schemas['SandboxDetail'];

export function SandboxPage({ sandboxId, tab }: { sandboxId: string; tab: string }) {
  const detail = usePoll(
    async () => ok(await rest().GET('/sandboxes/{sandboxID}', { params: { path: { sandboxID: sandboxId } } })),
    2000,
    [sandboxId],
  );
  const d = detail.data;
  const gone = detail.error instanceof NotFoundError;
  // The terminal stays mounted once opened, so switching tabs keeps its shell and scrollback.
  const [terminalOpened, setTerminalOpened] = useState(tab === 'terminal');
  useEffect(() => {
    if (tab === 'terminal') setTerminalOpened(true);
  }, [tab]);

  const crumbs = (
    <div className="crumbs">
      <Link to="/sandboxes">Sandboxes</Link>
      <span>/</span>
      <span className="mono">{sandboxId}</span>
    </div>
  );
  if (gone) {
    return (
      <>
        {crumbs}
        <Empty title="This sandbox is gone">
          <code>{sandboxId}</code> does not exist any more: it was killed or its timeout passed.{' '}
          <Link to="/sandboxes">Back to the list</Link>
        </Empty>
      </>
    );
  }
  if (!d)
    return (
      <>
        {crumbs}
        {detail.error ? <ErrorMessage error={detail.error} /> : <Loading />}
      </>
    );

  const running = d.state === 'running';
  const needsAgent = tab === 'files';
  return (
    <>
      {crumbs}
      <div className="sandbox-header">
        <div className="sandbox-title">
          <h1 className="mono">{sandboxId}</h1>
          <Badge>{d.state}</Badge>
        </div>
        <SandboxActions
          sandboxId={sandboxId}
          state={d.state}
          onDone={() => void detail.refresh()}
          onKilled={() => navigate('/sandboxes')}
        />
      </div>
      <div className="facts">
        <span>
          <span className="muted">Template</span> {d.alias ?? <Id value={d.templateID} short />}
        </span>
        <span>
          <span className="muted">Started</span> {relative(d.startedAt)}
        </span>
        <span>
          <span className="muted">Ends</span> {relative(d.endAt)}
        </span>
        <span>
          <span className="muted">Resources</span> {d.cpuCount} vCPU · {mib(d.memoryMB)}
        </span>
        <span>
          <span className="muted">Isolation</span> {d.isolation ?? 'container'}
        </span>
      </div>
      {detail.error ? <ErrorMessage error={detail.error} /> : null}
      <nav className="tabs" role="tablist">
        {TABS.map((t) => (
          <Link
            key={t.id}
            to={`/sandboxes/${sandboxId}/${t.id}`}
            className={`tab ${tab === t.id ? 'active' : ''}`}
            data-testid={`tab-${t.id}`}
          >
            {t.label}
          </Link>
        ))}
      </nav>
      <div className="tab-panel">
        {terminalOpened && <TerminalTab sandboxId={sandboxId} running={running} visible={tab === 'terminal'} />}
        {needsAgent && !running ? (
          <Notice>The sandbox is paused: resume it to use its files. Its memory, processes and files are kept.</Notice>
        ) : tab === 'terminal' ? null : tab === 'monitoring' ? (
          <MonitoringTab sandboxId={sandboxId} running={running} />
        ) : tab === 'files' ? (
          <FilesTab sandboxId={sandboxId} />
        ) : tab === 'logs' ? (
          <LogsTab sandboxId={sandboxId} />
        ) : tab === 'info' ? (
          <InfoTab detail={d} onChanged={() => void detail.refresh()} />
        ) : (
          <Empty title="No such tab" />
        )}
      </div>
    </>
  );
}
