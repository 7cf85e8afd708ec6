/**
 * Modal dialogs: `Dialog` (a form with a submit action whose error stays in the dialog) and `confirmAction`-style
 * `ConfirmDialog`. Escape and the backdrop close them.
 */
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { Button, ErrorMessage } from './ui';
import { Icon } from './icons';

export function Dialog({
  title,
  children,
  submitLabel,
  danger,
  onSubmit,
  onClose,
  wide,
}: {
  title: string;
  children: ReactNode;
  submitLabel: string;
  danger?: boolean;
  onSubmit: () => Promise<void> | void;
  onClose: () => void;
  wide?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await onSubmit();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <div className="backdrop" onMouseDown={(e) => e.target === e.currentTarget && !busy && onClose()}>
      <form className={`dialog ${wide ? 'dialog-wide' : ''}`} role="dialog" aria-label={title} onSubmit={submit}>
        <header className="dialog-header">
          <h2>{title}</h2>
          <button type="button" className="icon-btn" onClick={onClose} aria-label="Close">
            <Icon name="x" />
          </button>
        </header>
        <div className="dialog-body">
          {children}
          <ErrorMessage error={error} />
        </div>
        <footer className="dialog-footer">
          <Button onClick={onClose} disabled={busy}>
            Cancel
          </Button>
          <button type="submit" className={`btn btn-${danger ? 'danger' : 'primary'}`} disabled={busy}>
            {busy && <span className="spinner" />}
            <span>{submitLabel}</span>
          </button>
        </footer>
      </form>
    </div>
  );
}

export function ConfirmDialog({
  title,
  message,
  confirmLabel,
  onConfirm,
  onClose,
}: {
  title: string;
  message: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  return (
    <Dialog title={title} submitLabel={confirmLabel} danger onSubmit={onConfirm} onClose={onClose}>
      <p>{message}</p>
    </Dialog>
  );
}
