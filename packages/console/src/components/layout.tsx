/**
 * The frame of every signed-in page: a sidebar with the product, the sections, the API reference (served by the
 * server at /docs/api, opens in a new tab) and sign-out; on narrow windows it becomes a top bar with the sections in
 * a row.
 */
import type { MouseEvent, ReactNode } from 'react';
import { Icon, type IconName } from './icons';
import { href, navigate } from '../lib/router';
import { signOut } from '../lib/auth';

/** An in-app link (history navigation, still a real href for new tabs). */
export function Link({
  to,
  children,
  className,
  ...rest
}: {
  to: string;
  children: ReactNode;
  className?: string;
  title?: string;
  'data-testid'?: string;
}) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={href(to)} onClick={onClick} className={className} {...rest}>
      {children}
    </a>
  );
}

const SECTIONS: { to: string; label: string; icon: IconName }[] = [
  { to: '/sandboxes', label: 'Sandboxes', icon: 'box' },
  { to: '/templates', label: 'Templates', icon: 'layers' },
  { to: '/snapshots', label: 'Snapshots', icon: 'camera' },
  { to: '/volumes', label: 'Volumes', icon: 'folder' },
  { to: '/settings', label: 'Settings', icon: 'key' },
];

export function Layout({ path, children }: { path: string; children: ReactNode }) {
  return (
    <div className="shell">
      <aside className="sidebar">
        <Link to="/sandboxes" className="brand">
          <img src="/favicon.svg" alt="" width={26} height={26} />
          <span>Tensor Box</span>
        </Link>
        <nav className="nav" aria-label="Sections">
          {SECTIONS.map((s) => (
            <Link key={s.to} to={s.to} className={`nav-item ${path.startsWith(s.to) ? 'active' : ''}`}>
              <Icon name={s.icon} />
              <span>{s.label}</span>
            </Link>
          ))}
        </nav>
        <div className="sidebar-foot">
          <div className="server muted" title={location.origin}>
            <span className="live-dot" /> {location.host}
          </div>
          <a className="nav-item" href="/docs/api" target="_blank" rel="noopener" data-testid="api-reference">
            <Icon name="file" />
            <span>API reference</span>
          </a>
          <button type="button" className="nav-item signout" onClick={signOut}>
            <Icon name="logout" />
            <span>Sign out</span>
          </button>
        </div>
      </aside>
      <main className="main">{children}</main>
    </div>
  );
}
