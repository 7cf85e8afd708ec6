/**
 * Files tab: browse the sandbox's filesystem (envd's filesystem service through the SDK), open a file, upload files
 * into the current folder, download through a signed URL, create folders, delete. Starts in /home/user. Listings are
 * fetched on navigation and after changes (Refresh for others'), not polled: agent traffic keeps a sandbox alive.
 */
import { useRef, useState } from 'react';
import type { EntryInfo, Sandbox } from 'tensor-box';
import { usePoll } from '../../lib/use-poll';
import { useSandbox } from '../../lib/use-sandbox';
import { bytes, dateTime } from '../../lib/format';
import { Button, Empty, ErrorMessage, Loading } from '../../components/ui';
import { Icon } from '../../components/icons';
import { ConfirmDialog, Dialog } from '../../components/dialog';

const PREVIEW_MAX_BYTES = 1 << 20;

const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);
const parent = (p: string) => p.replace(/\/[^/]+\/?$/, '') || '/';

export function FilesTab({ sandboxId }: { sandboxId: string }) {
  const { sandbox, error } = useSandbox(sandboxId);
  if (error) return <ErrorMessage error={error} />;
  if (!sandbox) return <Loading />;
  return <Browser sandbox={sandbox} />;
}

function Browser({ sandbox }: { sandbox: Sandbox }) {
  const [dir, setDir] = useState('/home/user');
  const [pathInput, setPathInput] = useState('/home/user');
  const [open, setOpen] = useState<EntryInfo>();
  const [dialog, setDialog] = useState<{ kind: 'mkdir' } | { kind: 'delete'; entry: EntryInfo }>();
  const [folderName, setFolderName] = useState('');
  const [actionError, setActionError] = useState<unknown>();
  const [uploading, setUploading] = useState<string>();
  const upload = useRef<HTMLInputElement>(null);
  const list = usePoll(
    async () => {
      const entries = await sandbox.files.list(dir);
      return entries.sort((a, b) =>
        (a.type === 'dir') === (b.type === 'dir') ? a.name.localeCompare(b.name) : a.type === 'dir' ? -1 : 1,
      );
    },
    0,
    [dir],
  );

  const cd = (p: string) => {
    setDir(p);
    setPathInput(p);
    setOpen(undefined);
  };
  const download = async (e: EntryInfo) => {
    setActionError(undefined);
    try {
      const a = document.createElement('a');
      a.href = await sandbox.downloadUrl(e.path, { useSignatureExpiration: 300 });
      a.download = e.name;
      document.body.append(a);
      a.click();
      a.remove();
    } catch (err) {
      setActionError(err);
    }
  };
  const onUpload = async (files: FileList | null) => {
    if (!files?.length) return;
    setActionError(undefined);
    try {
      for (const f of Array.from(files)) {
        setUploading(f.name);
        await sandbox.files.write(join(dir, f.name), f);
      }
      await list.refresh();
    } catch (err) {
      setActionError(err);
    } finally {
      setUploading(undefined);
      if (upload.current) upload.current.value = '';
    }
  };

  const segments = dir.split('/').filter(Boolean);
  return (
    <div className="files">
      <div className="toolbar files-toolbar">
        <Button
          icon="up"
          title="Parent folder"
          aria-label="Parent folder"
          disabled={dir === '/'}
          onClick={() => cd(parent(dir))}
        />
        <form
          className="path-form"
          onSubmit={(e) => {
            e.preventDefault();
            cd(pathInput.trim().replace(/(.)\/+$/, '$1') || '/');
          }}
        >
          <input
            name="path"
            className="mono"
            value={pathInput}
            onChange={(e) => setPathInput(e.target.value)}
            aria-label="Path"
          />
        </form>
        <span className="spacer" />
        <Button icon="refresh" title="Refresh" aria-label="Refresh" onClick={() => void list.refresh()} />
        <Button icon="folder" onClick={() => (setFolderName(''), setDialog({ kind: 'mkdir' }))}>
          New folder
        </Button>
        <Button icon="upload" variant="primary" busy={!!uploading} onClick={() => upload.current?.click()}>
          {uploading ? `Uploading ${uploading}…` : 'Upload'}
        </Button>
        <input
          ref={upload}
          type="file"
          multiple
          hidden
          data-testid="upload-input"
          onChange={(e) => void onUpload(e.target.files)}
        />
      </div>
      <div className="crumbs files-crumbs">
        <button type="button" className="link-btn" onClick={() => cd('/')}>
          /
        </button>
        {segments.map((s, i) => (
          <span key={i}>
            <button type="button" className="link-btn" onClick={() => cd(`/${segments.slice(0, i + 1).join('/')}`)}>
              {s}
            </button>
            {i < segments.length - 1 && <span className="muted">/</span>}
          </span>
        ))}
      </div>
      <ErrorMessage error={actionError} onDismiss={() => setActionError(undefined)} />
      <ErrorMessage error={list.error} />
      <div className={`files-body ${open ? 'with-preview' : ''}`}>
        <div className="table-wrap">
          {!list.data ? (
            list.loading ? (
              <Loading />
            ) : null
          ) : list.data.length === 0 ? (
            <Empty icon="folder" title="This folder is empty">
              Upload files or create a folder.
            </Empty>
          ) : (
            <table className="table" data-testid="files-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th className="right hide-sm">Size</th>
                  <th className="hide-sm">Modified</th>
                  <th className="hide-md">Permissions</th>
                  <th className="right">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((e) => (
                  <tr
                    key={e.path}
                    data-name={e.name}
                    className={`clickable ${open?.path === e.path ? 'selected' : ''}`}
                    onClick={(ev) =>
                      !(ev.target as HTMLElement).closest('button,.backdrop') &&
                      (e.type === 'dir' ? cd(e.path) : setOpen(e))
                    }
                  >
                    <td>
                      <span className={`file-name ${e.type}`}>
                        <Icon name={e.type === 'dir' ? 'folder' : 'file'} />
                        {e.name}
                        {e.symlinkTarget && <span className="muted small"> → {e.symlinkTarget}</span>}
                      </span>
                    </td>
                    <td className="right mono small hide-sm">{e.type === 'dir' ? '—' : bytes(e.size)}</td>
                    <td className="hide-sm small">{dateTime(e.modifiedTime)}</td>
                    <td className="hide-md mono small">
                      {e.permissions} {e.owner}
                    </td>
                    <td className="right">
                      <div className="actions actions-compact">
                        {e.type !== 'dir' && (
                          <Button
                            icon="download"
                            title="Download"
                            aria-label={`Download ${e.name}`}
                            onClick={() => void download(e)}
                          />
                        )}
                        <Button
                          icon="trash"
                          className="danger-hover"
                          title="Delete"
                          aria-label={`Delete ${e.name}`}
                          onClick={() => setDialog({ kind: 'delete', entry: e })}
                        />
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        {open && (
          <Preview
            sandbox={sandbox}
            entry={open}
            onClose={() => setOpen(undefined)}
            onDownload={() => void download(open)}
          />
        )}
      </div>
      {dialog?.kind === 'mkdir' && (
        <Dialog
          title="New folder"
          submitLabel="Create folder"
          onClose={() => setDialog(undefined)}
          onSubmit={async () => {
            const name = folderName.trim();
            if (!name || name.includes('/')) throw new Error('A folder name is needed (without "/").');
            await sandbox.files.makeDir(join(dir, name));
            setDialog(undefined);
            await list.refresh();
          }}
        >
          <label className="field">
            <span>Name (in {dir})</span>
            <input name="folderName" value={folderName} onChange={(e) => setFolderName(e.target.value)} autoFocus />
          </label>
        </Dialog>
      )}
      {dialog?.kind === 'delete' && (
        <ConfirmDialog
          title={dialog.entry.type === 'dir' ? 'Delete folder' : 'Delete file'}
          confirmLabel="Delete"
          message={
            <>
              Delete <code>{dialog.entry.path}</code>
              {dialog.entry.type === 'dir' ? ' and everything in it' : ''}?
            </>
          }
          onClose={() => setDialog(undefined)}
          onConfirm={async () => {
            await sandbox.files.remove(dialog.entry.path);
            if (open?.path === dialog.entry.path) setOpen(undefined);
            setDialog(undefined);
            await list.refresh();
          }}
        />
      )}
    </div>
  );
}

function Preview({
  sandbox,
  entry,
  onClose,
  onDownload,
}: {
  sandbox: Sandbox;
  entry: EntryInfo;
  onClose: () => void;
  onDownload: () => void;
}) {
  const tooBig = entry.size > PREVIEW_MAX_BYTES;
  const content = usePoll(
    async () => {
      if (tooBig) return undefined;
      const data = await sandbox.files.read(entry.path, { format: 'bytes' });
      const text = new TextDecoder('utf-8', { fatal: false }).decode(data);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: a NUL byte marks a binary file
      return { text, binary: text.includes('\ufffd') || /\u0000/.test(text.slice(0, 4096)) };
    },
    0,
    [entry.path],
  );
  return (
    <aside className="preview card" data-testid="file-preview">
      <header className="card-header">
        <h3 className="mono" title={entry.path}>
          {entry.name}
        </h3>
        <div className="card-actions">
          <Button icon="download" onClick={onDownload}>
            Download
          </Button>
          <button type="button" className="icon-btn" onClick={onClose} aria-label="Close preview">
            <Icon name="x" />
          </button>
        </div>
      </header>
      <div className="muted small preview-meta">
        {bytes(entry.size)} · {entry.permissions} · {entry.owner}:{entry.group} · {dateTime(entry.modifiedTime)}
      </div>
      {tooBig ? (
        <div className="preview-note muted">Larger than 1 MiB: download it to look inside.</div>
      ) : content.error ? (
        <ErrorMessage error={content.error} />
      ) : !content.data ? (
        <Loading />
      ) : content.data.binary ? (
        <div className="preview-note muted">A binary file: download it to open it.</div>
      ) : (
        <pre className="preview-text">{content.data.text || <span className="muted">(empty file)</span>}</pre>
      )}
    </aside>
  );
}
