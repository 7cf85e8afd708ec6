/** Snapshots: saved sandbox states (memory, processes, files); start a sandbox from one, or delete it. */
import { useState } from 'react';
import { Snapshot } from 'tensor-box';
import { conn, ok, rest } from '../lib/api';
import { usePoll } from '../lib/use-poll';
import { dateTime, relative } from '../lib/format';
import { Button, Empty, ErrorMessage, Id, Loading, PageHeader } from '../components/ui';
import { Link } from '../components/layout';
import { ConfirmDialog } from '../components/dialog';
import { CreateSandboxDialog } from './create-sandbox';

export function SnapshotsPage() {
  const list = usePoll(async () => ok(await rest().GET('/snapshots', { params: { query: { limit: 100 } } })), 5000, []);
  const [starting, setStarting] = useState<string>();
  const [deleting, setDeleting] = useState<string>();
  return (
    <>
      <PageHeader
        title="Snapshots"
        subtitle={
          'Saved sandbox states — memory, processes and files. ' +
          'A snapshot starts new sandboxes that continue from that moment.'
        }
      />
      <ErrorMessage error={list.error} />
      {!list.data ? (
        list.loading ? (
          <Loading />
        ) : null
      ) : list.data.length === 0 ? (
        <Empty icon="camera" title="No snapshots yet">
          Take one with <code>sandbox.createSnapshot()</code> or <code>tensor-box sandbox snapshot &lt;id&gt;</code>.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="snapshots-table">
            <thead>
              <tr>
                <th>Snapshot</th>
                <th>Name</th>
                <th className="hide-sm">From sandbox</th>
                <th className="hide-md">Template</th>
                <th className="hide-sm">Created</th>
                <th className="right">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((s) => (
                <tr key={s.snapshotID} data-snapshot-id={s.snapshotID}>
                  <td>
                    <Id value={s.snapshotID} short />
                  </td>
                  <td>{s.name ?? s.names[0] ?? <span className="muted">—</span>}</td>
                  <td className="hide-sm">
                    {s.sandboxID ? (
                      <Link to={`/sandboxes/${s.sandboxID}/info`} className="mono small">
                        {s.sandboxID}
                      </Link>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td className="hide-md">
                    {s.templateID ? (
                      <Link to={`/templates/${s.templateID}`} className="mono small">
                        {s.templateID}
                      </Link>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td className="hide-sm" title={dateTime(s.createdAt)}>
                    {relative(s.createdAt)}
                  </td>
                  <td className="right">
                    <div className="actions actions-compact">
                      <Button
                        icon="play"
                        onClick={() => setStarting(s.snapshotID)}
                        aria-label={`Start a sandbox from ${s.snapshotID}`}
                      >
                        Start sandbox
                      </Button>
                      <Button
                        icon="trash"
                        className="danger-hover"
                        title="Delete"
                        aria-label={`Delete ${s.snapshotID}`}
                        onClick={() => setDeleting(s.snapshotID)}
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
          title="Delete snapshot"
          confirmLabel="Delete"
          message={
            <>
              Delete snapshot <code>{deleting}</code> and its images? Sandboxes already started from it keep running.
            </>
          }
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await Snapshot.delete(deleting, conn());
            setDeleting(undefined);
            await list.refresh();
          }}
        />
      )}
    </>
  );
}
