/**
 * A template: its facts, its builds (newest first) and the selected build's log — live while the build runs
 * (`/builds/{id}/status` for the state, `/builds/{id}/logs?offset=` for new lines), then complete.
 */
import { Fragment, useEffect, useRef, useState } from 'react';
import { NotFoundError } from 'tensor-box';
import { ok, rest, type Schemas } from '../lib/api';
import { usePoll } from '../lib/use-poll';
import { dateTime, duration, mib, relative, time } from '../lib/format';
import { navigate } from '../lib/router';
import { Badge, Button, Card, Empty, ErrorMessage, Id, Loading } from '../components/ui';
import { Link } from '../components/layout';
import { ConfirmDialog } from '../components/dialog';
import { CreateSandboxDialog } from './create-sandbox';
import { templateName } from './templates';

type Build = Schemas['TemplateBuild'];
const active = (s: string) => s === 'building' || s === 'waiting';

export function TemplatePage({ templateId }: { templateId: string }) {
  const tpl = usePoll(
    async () => ok(await rest().GET('/templates/{templateID}', { params: { path: { templateID: templateId } } })),
    3000,
    [templateId],
  );
  const [selected, setSelected] = useState<string>();
  const [starting, setStarting] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const t = tpl.data;
  const crumbs = (
    <div className="crumbs">
      <Link to="/templates">Templates</Link>
      <span>/</span>
      <span>{t ? templateName(t) : templateId}</span>
    </div>
  );
  if (!t) {
    return (
      <>
        {crumbs}
        {tpl.error instanceof NotFoundError ? (
          <Empty icon="layers" title="No such template">
            {String((tpl.error as Error).message)}
          </Empty>
        ) : tpl.error ? (
          <ErrorMessage error={tpl.error} />
        ) : (
          <Loading />
        )}
      </>
    );
  }
  const build = t.builds.find((b) => b.buildID === selected) ?? t.builds[0];
  return (
    <>
      {crumbs}
      <div className="sandbox-header">
        <div className="sandbox-title">
          <h1>{templateName(t)}</h1>
          {t.buildStatus && <Badge>{t.buildStatus}</Badge>}
        </div>
        <div className="actions">
          <Button icon="play" variant="primary" disabled={t.buildStatus !== 'ready'} onClick={() => setStarting(true)}>
            Start sandbox
          </Button>
          <Button icon="trash" variant="danger" onClick={() => setDeleting(true)}>
            Delete
          </Button>
        </div>
      </div>
      <div className="facts">
        <span>
          <span className="muted">ID</span> <Id value={t.templateID} />
        </span>
        {t.names.length > 1 && (
          <span>
            <span className="muted">Names</span> {t.names.join(', ')}
          </span>
        )}
        <span>
          <span className="muted">Resources</span> {t.cpuCount ?? '—'} vCPU · {t.memoryMB ? mib(t.memoryMB) : '—'} ·{' '}
          {t.diskSizeMB ? mib(t.diskSizeMB) : '—'} disk
        </span>
        <span>
          <span className="muted">Sandboxes started</span> {t.spawnCount}
        </span>
        <span>
          <span className="muted">Updated</span> {relative(t.updatedAt)}
        </span>
        {t.startCmd && (
          <span>
            <span className="muted">Start command</span> <code>{t.startCmd}</code>
          </span>
        )}
      </div>
      <ErrorMessage error={tpl.error} />
      <div className="template-grid">
        <Card title={`Builds (${t.builds.length})`}>
          {t.builds.length === 0 ? (
            <Empty icon="layers" title="No builds" />
          ) : (
            <div className="table-wrap flush">
              <table className="table" data-testid="builds-table">
                <thead>
                  <tr>
                    <th>Build</th>
                    <th>Status</th>
                    <th className="hide-sm">Source</th>
                    <th className="hide-sm">Started</th>
                    <th>Took</th>
                  </tr>
                </thead>
                <tbody>
                  {t.builds.map((b) => (
                    <tr
                      key={b.buildID}
                      className={`clickable ${b.buildID === build?.buildID ? 'selected' : ''}`}
                      data-build-id={b.buildID}
                      onClick={() => setSelected(b.buildID)}
                    >
                      <td className="mono small">{b.buildID.slice(0, 12)}</td>
                      <td>
                        <Badge>{b.status}</Badge>
                      </td>
                      <td className="hide-sm small">{b.source ?? '—'}</td>
                      <td className="hide-sm small" title={dateTime(b.createdAt)}>
                        {relative(b.createdAt)}
                      </td>
                      <td className="small">
                        {b.finishedAt
                          ? duration(new Date(b.finishedAt).getTime() - new Date(b.createdAt).getTime())
                          : active(b.status)
                            ? '…'
                            : '—'}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
        {build && (
          <BuildLog key={build.buildID} templateId={t.templateID} build={build} onFinished={() => void tpl.refresh()} />
        )}
      </div>
      {starting && <CreateSandboxDialog template={templateName(t)} onClose={() => setStarting(false)} />}
      {deleting && (
        <ConfirmDialog
          title="Delete template"
          confirmLabel="Delete"
          message={
            <>
              Delete <strong>{templateName(t)}</strong> and its layers?
            </>
          }
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            ok(await rest().DELETE('/templates/{templateID}', { params: { path: { templateID: t.templateID } } }));
            navigate('/templates');
          }}
        />
      )}
    </>
  );
}

function BuildLog({ templateId, build, onFinished }: { templateId: string; build: Build; onFinished: () => void }) {
  const [lines, setLines] = useState<Schemas['BuildLogEntry'][]>([]);
  const [status, setStatus] = useState<Schemas['TemplateBuildInfo']>();
  const [error, setError] = useState<unknown>();
  const box = useRef<HTMLDivElement>(null);
  const onFinishedRef = useRef(onFinished);
  onFinishedRef.current = onFinished;

  useEffect(() => {
    let stop = false;
    let offset = 0;
    let t: ReturnType<typeof setTimeout>;
    const path = { templateID: templateId, buildID: build.buildID };
    const tick = async () => {
      try {
        const st = ok(
          await rest().GET('/templates/{templateID}/builds/{buildID}/status', {
            params: { path, query: { logsOffset: 0, limit: 1 } },
          }),
        );
        for (;;) {
          const r = ok(
            await rest().GET('/templates/{templateID}/builds/{buildID}/logs', {
              params: { path, query: { offset, limit: 1000 } },
            }),
          );
          if (stop) return;
          if (r.logs.length) setLines((cur) => [...cur, ...r.logs]);
          offset = r.nextOffset ?? offset + r.logs.length;
          if (r.logs.length < 1000) break;
        }
        setStatus(st);
        setError(undefined);
        if (active(st.status)) t = setTimeout(tick, 1000);
        else if (active(build.status)) onFinishedRef.current();
      } catch (err) {
        if (stop) return;
        setError(err);
        t = setTimeout(tick, 3000);
      }
    };
    void tick();
    return () => {
      stop = true;
      clearTimeout(t);
    };
  }, [templateId, build.buildID]);

  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);

  const st = status?.status ?? build.status;
  const reason = status?.reason ?? build.reason;
  return (
    <Card
      title={
        <>
          Build log <span className="mono muted small">{build.buildID.slice(0, 12)}</span>
        </>
      }
      actions={<Badge>{st}</Badge>}
      className="build-log-card"
    >
      <ErrorMessage error={error} />
      {reason && st === 'error' && (
        <div className="alert alert-error">
          {reason.step ? <strong>Step {reason.step}: </strong> : null}
          {reason.message}
          {reason.exitCode !== undefined ? ` (exit code ${reason.exitCode})` : ''}
        </div>
      )}
      <div className="log-view build-log" ref={box} data-testid="build-log">
        {lines.length === 0 ? (
          <div className="muted log-empty">{active(st) ? 'Waiting for output…' : 'This build left no log.'}</div>
        ) : (
          lines.map((l, i) => (
            <Fragment key={i}>
              {l.step && l.step !== lines[i - 1]?.step && <div className="log-step">▸ {l.step}</div>}
              <div className={`log-line lvl-${l.level}`}>
                <span className="log-ts">{time(l.timestamp)}</span>
                <span className="log-msg">{l.message}</span>
              </div>
            </Fragment>
          ))
        )}
        {active(st) && (
          <div className="log-line muted">
            <span className="spinner" /> building…
          </div>
        )}
      </div>
    </Card>
  );
}
