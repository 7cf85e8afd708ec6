/** Templates: every template with its build status and sizes; start a sandbox from one, open its builds, delete it. */
import { useState } from 'react';
import { ok, rest, type Schemas } from '../lib/api';
import { usePoll } from '../lib/use-poll';
import { mib, relative } from '../lib/format';
import { navigate } from '../lib/router';
import { Badge, Button, Empty, ErrorMessage, Id, Loading, PageHeader } from '../components/ui';
import { Link } from '../components/layout';
import { ConfirmDialog } from '../components/dialog';
import { CreateSandboxDialog } from './create-sandbox';

export const templateName = (t: { names: string[]; aliases: string[]; templateID: string }) =>
  t.names[0] ?? t.aliases[0] ?? t.templateID;

export function TemplatesPage() {
  const list = usePoll(async () => ok(await rest().GET('/templates')), 5000, []);
  const [starting, setStarting] = useState<string>();
  const [deleting, setDeleting] = useState<Schemas['Template']>();
  return (
    <>
      <PageHeader title="Templates" subtitle="Root filesystems sandboxes start from, and their builds." />
      <ErrorMessage error={list.error} />
      {!list.data ? (
        list.loading ? (
          <Loading />
        ) : null
      ) : list.data.length === 0 ? (
        <Empty icon="layers" title="No templates" />
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="templates-table">
            <thead>
              <tr>
                <th>Template</th>
                <th className="hide-sm">ID</th>
                <th>Status</th>
                <th className="hide-sm">Resources</th>
                <th className="hide-md right">Builds</th>
                <th className="hide-md right">Sandboxes started</th>
                <th className="hide-sm">Updated</th>
                <th className="right">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((t) => (
                <tr
                  key={t.templateID}
                  data-template-id={t.templateID}
                  className="clickable"
                  onClick={(e) =>
                    !(e.target as HTMLElement).closest('button,a,.backdrop') && navigate(`/templates/${t.templateID}`)
                  }
                >
                  <td>
                    <Link to={`/templates/${t.templateID}`} className="strong" title={t.names.join(', ')}>
                      {templateName(t)}
                    </Link>
                    {t.names.length > 1 && <span className="muted small"> +{t.names.length - 1}</span>}
                  </td>
                  <td className="hide-sm">
                    <Id value={t.templateID} short />
                  </td>
                  <td>
                    <Badge>{t.buildStatus}</Badge>
                  </td>
                  <td className="hide-sm small">
                    {t.cpuCount} vCPU · {mib(t.memoryMB)} · {mib(t.diskSizeMB)} disk
                    {t.isolation ? ` · ${t.isolation}` : ''}
                  </td>
                  <td className="hide-md right">{t.buildCount}</td>
                  <td className="hide-md right">{t.spawnCount}</td>
                  <td className="hide-sm" title={new Date(t.updatedAt).toLocaleString()}>
                    {relative(t.updatedAt)}
                  </td>
                  <td className="right">
                    <div className="actions actions-compact">
                      <Button
                        icon="play"
                        title="Start a sandbox"
                        aria-label={`Start a sandbox from ${templateName(t)}`}
                        disabled={t.buildStatus !== 'ready'}
                        onClick={() => setStarting(templateName(t))}
                      />
                      <Button
                        icon="trash"
                        className="danger-hover"
                        title="Delete"
                        aria-label={`Delete ${templateName(t)}`}
                        onClick={() => setDeleting(t)}
                      />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {starting && <CreateSandboxDialog template={starting} onClose={() => setStarting(undefined)} />}
      {deleting && (
        <ConfirmDialog
          title="Delete template"
          confirmLabel="Delete"
          message={
            <>
              Delete <strong>{templateName(deleting)}</strong> and its layers? Sandboxes, snapshots or templates that
              use it stop the deletion.
            </>
          }
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            ok(
              await rest().DELETE('/templates/{templateID}', { params: { path: { templateID: deleting.templateID } } }),
            );
            setDeleting(undefined);
            await list.refresh();
          }}
        />
      )}
    </>
  );
}
