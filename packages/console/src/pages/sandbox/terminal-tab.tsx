/**
 * Terminal tab: xterm.js on the sandbox's shell (TerminalSession). It fits its box and follows window resizes; the
 * page keeps it mounted across tab switches so the session and its scrollback stay.
 */
import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { TerminalSession, type TerminalStatus } from '../../lib/terminal-session';
import { Button } from '../../components/ui';

const THEME = {
  background: '#0d1117',
  foreground: '#e6edf3',
  cursor: '#a5b4fc',
  selectionBackground: '#3b4261',
  black: '#484f58',
  red: '#ff7b72',
  green: '#3fb950',
  yellow: '#d29922',
  blue: '#58a6ff',
  magenta: '#bc8cff',
  cyan: '#39c5cf',
  white: '#b1bac4',
};

const STATUS_LABEL: Record<TerminalStatus, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  waiting: 'Paused',
  exited: 'Exited',
};

export function TerminalTab({
  sandboxId,
  running,
  visible,
}: {
  sandboxId: string;
  running: boolean;
  visible: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  const session = useRef<TerminalSession>(undefined);
  const termRef = useRef<Terminal>(undefined);
  const [status, setStatus] = useState<{ s: TerminalStatus; message?: string }>({ s: 'connecting' });
  const runningRef = useRef(running);
  runningRef.current = running;

  useEffect(() => {
    const term = new Terminal({
      fontFamily: '"DejaVu Sans Mono", ui-monospace, SFMono-Regular, Menlo, monospace',
      fontSize: 13,
      lineHeight: 1.15,
      cursorBlink: true,
      scrollback: 5000,
      theme: THEME,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current!);
    const refit = () => {
      try {
        if (box.current && box.current.clientWidth > 0) fit.fit();
      } catch {
        /* not laid out yet */
      }
    };
    refit();
    const s = new TerminalSession(sandboxId, term, (st, message) => setStatus({ s: st, message }));
    session.current = s;
    termRef.current = term;
    s.hold(!runningRef.current);
    s.start();
    const ro = new ResizeObserver(refit);
    ro.observe(box.current!);
    window.addEventListener('resize', refit);
    return () => {
      ro.disconnect();
      window.removeEventListener('resize', refit);
      s.dispose();
      term.dispose();
    };
  }, [sandboxId]);

  useEffect(() => session.current?.hold(!running), [running]);
  useEffect(() => {
    if (visible) termRef.current?.focus();
  }, [visible]);

  return (
    <div className="terminal-card" style={{ display: visible ? undefined : 'none' }}>
      <div className="terminal-bar">
        <span className={`term-status term-${status.s}`} data-testid="terminal-status">
          <span className="dot" />
          {STATUS_LABEL[status.s]}
        </span>
        {status.message && <span className="muted small">{status.message}</span>}
        <span className="spacer" />
        {status.s === 'exited' && running && (
          <Button icon="terminal" onClick={() => session.current?.restart()}>
            New shell
          </Button>
        )}
      </div>
      <div className="terminal-box" ref={box} data-testid="terminal" onClick={() => termRef.current?.focus()} />
    </div>
  );
}
