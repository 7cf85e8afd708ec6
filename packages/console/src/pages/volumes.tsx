/**
 * Volumes: the team's persistent file systems (size, which sandboxes mount them); create one, browse its top-level
 * files, or delete it (the server refuses while a sandbox mounts it, and the dialog shows why).
 */
import { useState } from 'react';
import { Volume, type VolumeEntryStat } from 'tensor-box';
import { conn, ok, rest } from '../lib/api';
import { usePoll } from '../lib/use-poll';
import { dateTime, relative } from '../lib/format';
import { Button, Empty, ErrorMessage, Id, Loading, PageHeader } from '../components/ui';
import { ConfirmDialog, Dialog } from '../components/dialog';

function CreateVolumeDialog({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [sizeMB, setSizeMB] = useState('1024');
  const submit = async () => {
    const size = Number(sizeMB);
    if (!Number.isInteger(size) || size < 1) throw new Error('The size is a whole number of MiB, at least 1.');
    await Volume.create(name.trim(), { ...conn(), sizeMB: size });
    onCreated();
    onClose();
  };
  return (
    <Dialog title="New volume" submitLabel="Create volume" onSubmit={submit} onClose={onClose}>
      <div className="form-grid">
        <label className="field">
          <span>Name</span>
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="data" required />
          <small className="muted">
            Mount it with volumeMounts: {'{'} '/mnt/data': 'data' {'}'}.
          </small>
        </label>
        <label className="field">
          <span>Size (MiB)</span>
          <input name="size" type="number" min={1} value={sizeMB} onChange={(e) => setSizeMB(e.target.value)} />
          <small className="muted">Writes beyond it fail (ENOSPC); counts toward the team's disk quota.</small>
        </label>
      </div>
    </Dialog>
  );
}

function FilesDialog({ volumeId, onClose }: { volumeId: string; onClose: () => void }) {
  const files = usePoll(async () => (await Volume.get(volumeId, conn())).list('/'), 0, [volumeId]);
  return (
    <Dialog title="Files" submitLabel="Close" onSubmit={onClose} onClose={onClose} wide>
      <ErrorMessage error={files.error} />
      {!files.data ? (
        <Loading />
      ) : (
        <ul className="plain-list mono small" data-testid="volume-files">
          {files.data.map((e: VolumeEntryStat) => (
            <li key={e.path}>
              {e.name}
              {e.type === 'directory' ? '/' : e.type === 'symlink' ? ` → ${e.target ?? ''}` : ` (${e.size} B)`}
            </li>
          ))}
        </ul>
      )}
    </Dialog>
  );
}

export function VolumesPage() {
  const list = usePoll(async () => ok(await rest().GET('/volumes')), 5000, []);
  const sandboxes = usePoll(async () => ok(await rest().GET('/v2/sandboxes', { params: { query: {} } })), 5000, []);
  const [creating, setCreating] = useState(false);
  const [browsing, setBrowsing] = useState<string>();
  const [deleting, setDeleting] = useState<string>();
  const mountedBy = (name: string) =>
    (sandboxes.data ?? []).filter((s) => s.volumeMounts?.some((m) => m.name === name)).map((s) => s.sandboxID);
  return (
    <>
      <PageHeader
        title="Volumes"
        subtitle="Persistent file systems of your team: several sandboxes mount one at once, and its files outlive them."
        actions={
          <Button icon="plus" onClick={() => setCreating(true)}>
            New volume
          </Button>
        }
      />
      <ErrorMessage error={list.error} />
      {!list.data ? (
        list.loading ? (
          <Loading />
        ) : null
      ) : list.data.length === 0 ? (
        <Empty icon="folder" title="No volumes yet">
          Make one here, with <code>Volume.create('data')</code> or <code>tensor-box volume create data</code>.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="volumes-table">
            <thead>
              <tr>
                <th>Name</th>
                <th className="hide-sm">Volume</th>
                <th>Size</th>
                <th className="hide-md">Mounted by</th>
                <th className="hide-sm">Created</th>
                <th className="right">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((v) => (
                <tr key={v.volumeID} data-volume-id={v.volumeID}>
                  <td>{v.name}</td>
                  <td className="hide-sm">
                    <Id value={v.volumeID} short />
                  </td>
                  <td>{v.sizeMB ?? '—'} MiB</td>
                  <td className="hide-md mono small">{mountedBy(v.name).join(', ') || '—'}</td>
                  <td className="hide-sm" title={v.createdAt ? dateTime(v.createdAt) : ''}>
                    {v.createdAt ? relative(v.createdAt) : '—'}
                  </td>
                  <td className="right">
                    <div className="actions actions-compact">
                      <Button icon="folder" onClick={() => setBrowsing(v.volumeID)} aria-label={`Files of ${v.name}`}>
                        Files
                      </Button>
                      <Button
                        icon="trash"
                        className="danger-hover"
                        title="Delete"
                        aria-label={`Delete ${v.name}`}
                        onClick={() => setDeleting(v.volumeID)}
                      />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && <CreateVolumeDialog onClose={() => setCreating(false)} onCreated={() => void list.refresh()} />}
      {browsing && <FilesDialog volumeId={browsing} onClose={() => setBrowsing(undefined)} />}
      {deleting && (
        <ConfirmDialog
          title="Delete volume"
          confirmLabel="Delete"
          message={
            <>
              Delete volume <code>{deleting}</code> and all its files? This cannot be undone.
            </>
          }
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await Volume.delete(deleting, conn());
            setDeleting(undefined);
            await list.refresh();
          }}
        />
      )}
    </>
  );
}
