/** Small building blocks shared by the pages: buttons, badges, cards, messages, empty states, copyable IDs. */
import { useState, type ButtonHTMLAttributes, type MouseEvent, type ReactNode } from 'react';
import { Icon, type IconName } from './icons';
import { AuthenticationError } from 'tensor-box';
import { errorMessage } from '../lib/api';
import { signOut } from '../lib/auth';

type Variant = 'primary' | 'secondary' | 'danger' | 'ghost';

export function Button({
  variant = 'secondary',
  icon,
  busy,
  children,
  className = '',
  ...rest
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; icon?: IconName; busy?: boolean }) {
  return (
    <button type="button" className={`btn btn-${variant} ${className}`} disabled={busy || rest.disabled} {...rest}>
      {busy ? <span className="spinner" aria-hidden="true" /> : icon ? <Icon name={icon} /> : null}
      {children && <span>{children}</span>}
    </button>
  );
}

const BADGE_TONES: Record<string, string> = {
  running: 'green',
  ready: 'green',
  paused: 'amber',
  waiting: 'amber',
  building: 'blue',
  error: 'red',
  killed: 'gray',
};

export function Badge({ children, tone }: { children: string; tone?: string }) {
  return (
    <span className={`badge badge-${tone ?? BADGE_TONES[children] ?? 'gray'}`} data-state={children}>
      <span className="dot" />
      {children}
    </span>
  );
}

export function Card({
  title,
  actions,
  children,
  className = '',
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section className={`card ${className}`}>
      {(title || actions) && (
        <header className="card-header">
          <h3>{title}</h3>
          {actions && <div className="card-actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}

/** An error as a message (never a blank page). */
export function ErrorMessage({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (!error) return null;
  return (
    <div className="alert alert-error" role="alert">
      <span>{errorMessage(error)}</span>
      {error instanceof AuthenticationError && (
        <button type="button" className="btn btn-secondary" onClick={signOut}>
          Sign in again
        </button>
      )}
      {onDismiss && (
        <button type="button" className="alert-close" onClick={onDismiss} aria-label="Dismiss">
          <Icon name="x" />
        </button>
      )}
    </div>
  );
}

export function Notice({ children }: { children: ReactNode }) {
  return <div className="alert alert-info">{children}</div>;
}

export function Empty({ icon = 'box', title, children }: { icon?: IconName; title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <div className="empty-icon">
        <Icon name={icon} size={22} />
      </div>
      <strong>{title}</strong>
      {children && <div className="muted">{children}</div>}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading">
      <span className="spinner" /> {label}
    </div>
  );
}

/** Monospace ID with a copy button. */
export function Id({ value, short }: { value: string; short?: boolean }) {
  const [copied, setCopied] = useState(false);
  const copy = async (e: MouseEvent) => {
    e.preventDefault();
    e.stopPropagation();
    await navigator.clipboard?.writeText(value).catch(() => {});
    setCopied(true);
    setTimeout(() => setCopied(false), 1200);
  };
  return (
    <span className="id">
      <code title={value}>{short && value.length > 14 ? `${value.slice(0, 12)}…` : value}</code>
      <button type="button" className="icon-btn" onClick={copy} title={copied ? 'Copied' : 'Copy'} aria-label="Copy">
        <Icon name={copied ? 'x' : 'copy'} size={13} />
      </button>
    </span>
  );
}

export function Chips({ values }: { values: Record<string, string> }) {
  const entries = Object.entries(values);
  if (!entries.length) return <span className="muted">—</span>;
  return (
    <span className="chips">
      {entries.map(([k, v]) => (
        <span className="chip" key={k}>
          <span className="chip-k">{k}</span>
          {v}
        </span>
      ))}
    </span>
  );
}

export function PageHeader({
  title,
  subtitle,
  actions,
}: {
  title: ReactNode;
  subtitle?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle && <p className="muted">{subtitle}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </div>
  );
}
