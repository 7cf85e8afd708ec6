/**
 * The console: sign-in when no key is kept, otherwise the layout and the page for the current path. Routes:
 * `/sandboxes`, `/sandboxes/:id/:tab`, `/templates`, `/templates/:id`, `/snapshots`, `/volumes`, `/settings` (all below
 * /dashboard).
 */
import { lazy, Suspense, useEffect } from 'react';
import { useApiKey } from './lib/auth';
import { match, navigate, usePath } from './lib/router';
import { Layout } from './components/layout';
import { ErrorBoundary } from './components/error-boundary';
import { Empty, Loading } from './components/ui';
import { SignIn } from './pages/sign-in';
import { SandboxesPage } from './pages/sandboxes';
import { TemplatesPage } from './pages/templates';
import { TemplatePage } from './pages/template-detail';
import { SnapshotsPage } from './pages/snapshots';
import { VolumesPage } from './pages/volumes';
import { SettingsPage } from './pages/settings';

// The sandbox page carries xterm.js and uPlot: loaded when first opened, so sign-in and the lists come up quickly.
const SandboxPage = lazy(() => import('./pages/sandbox/sandbox-page').then((m) => ({ default: m.SandboxPage })));

function Page({ path }: { path: string }) {
  let m: Record<string, string> | undefined;
  if ((m = match('/sandboxes/:id/:tab?', path)))
    return <SandboxPage key={m.id} sandboxId={m.id} tab={m.tab ?? 'terminal'} />;
  if (match('/sandboxes', path)) return <SandboxesPage />;
  if ((m = match('/templates/:id', path))) return <TemplatePage key={m.id} templateId={m.id} />;
  if (match('/templates', path)) return <TemplatesPage />;
  if (match('/snapshots', path)) return <SnapshotsPage />;
  if (match('/volumes', path)) return <VolumesPage />;
  if (match('/settings', path)) return <SettingsPage />;
  return <Empty title="Page not found">There is no console page at {path}.</Empty>;
}

export function App() {
  const apiKey = useApiKey();
  const { path } = usePath();
  useEffect(() => {
    if (path === '/') navigate('/sandboxes', { replace: true });
  }, [path]);
  if (!apiKey) return <SignIn />;
  return (
    <Layout path={path}>
      <ErrorBoundary resetKey={path}>
        <Suspense fallback={<Loading />}>
          <Page path={path} />
        </Suspense>
      </ErrorBoundary>
    </Layout>
  );
}
