/**
 * Logs tab: a live tail of the sandbox's log (lifecycle events, agent messages, start-command output) from
 * `GET /v2/sandboxes/{id}/logs`: the newest 500 entries first, then every 2 s what came after, with a minimum level
 * and a search. Follows the end unless scrolled up; "Pause" stops the tail.
 */
import { useEffect, useRef, useState } from 'react';
import { ok, rest, type Schemas } from '../../lib/api';
import { time } from '../../lib/format';
import { Button, Empty, ErrorMessage, Loading } from '../../components/ui';

type Entry = Schemas['SandboxLogEntry'];
type Level = Schemas['LogLevel'];
const LEVELS: Level[] = ['debug', 'info', 'warn', 'error'];
const MAX_ENTRIES = 5000;

const key = (e: Entry) => `${e.timestamp}|${e.level}|${e.message}|${JSON.stringify(e.fields)}`;

export function LogsTab({ sandboxId }: { sandboxId: string }) {
  const [level, setLevel] = useState<Level>('debug');
  const [search, setSearch] = useState('');
  const [live, setLive] = useState(true);
  const [entries, setEntries] = useState<Entry[]>();
  const [error, setError] = useState<unknown>();
  const box = useRef<HTMLDivElement>(null);
  const follow = useRef(true);

  useEffect(() => {
    let stop = false;
    let cursor: number | undefined;
    let seen = new Set<string>();
    setEntries(undefined);
    const query = (more: Record<string, unknown>) =>
      rest().GET('/v2/sandboxes/{sandboxID}/logs', {
        params: { path: { sandboxID: sandboxId }, query: { level, search: search || undefined, ...more } },
      });
    const add = (list: Entry[]) => {
      const fresh = list.filter((e) => !seen.has(key(e)));
      if (!list.length) return;
      const last = new Date(list.at(-1)!.timestamp).getTime();
      // Entries of the cursor's millisecond may still arrive: ask from 1 ms before and drop what was seen.
      cursor = last - 1;
      seen = new Set(list.filter((e) => new Date(e.timestamp).getTime() >= cursor!).map(key));
      if (fresh.length) setEntries((cur) => [...(cur ?? []), ...fresh].slice(-MAX_ENTRIES));
    };
    const tick = async () => {
      try {
        if (cursor === undefined) {
          const first = ok(await query({ direction: 'backward', limit: 500 })).logs.reverse();
          if (stop) return;
          setEntries([]);
          add(first);
          if (!first.length) cursor = 0;
        } else {
          add(ok(await query({ direction: 'forward', cursor, limit: 1000 })).logs);
        }
        setError(undefined);
      } catch (err) {
        if (!stop) setError(err);
      }
    };
    let t: ReturnType<typeof setTimeout>;
    const loop = async () => {
      await tick();
      if (!stop && live) t = setTimeout(loop, 2000);
    };
    void loop();
    return () => {
      stop = true;
      clearTimeout(t);
    };
  }, [sandboxId, level, search, live]);

  useEffect(() => {
    if (follow.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [entries]);

  return (
    <div className="logs">
      <div className="toolbar">
        <div className="segmented" role="group" aria-label="Minimum level">
          {LEVELS.map((l) => (
            <button type="button" key={l} className={level === l ? 'active' : ''} onClick={() => setLevel(l)}>
              {l === 'debug' ? 'All' : `${l}+`}
            </button>
          ))}
        </div>
        <input
          className="search"
          name="logSearch"
          placeholder="Search messages"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <span className="spacer" />
        <span className={`live ${live ? 'on' : ''}`}>
          <span className="dot" /> {live ? 'Live' : 'Paused'}
        </span>
        <Button icon={live ? 'pause' : 'play'} onClick={() => setLive(!live)}>
          {live ? 'Pause' : 'Follow'}
        </Button>
      </div>
      <ErrorMessage error={error} />
      {!entries ? (
        <Loading label="Loading logs…" />
      ) : entries.length === 0 ? (
        <Empty icon="file" title="No log entries">
          {level !== 'debug' || search
            ? 'Nothing matches the filter.'
            : 'Lifecycle events and agent messages show up here.'}
        </Empty>
      ) : (
        <div
          className="log-view"
          ref={box}
          data-testid="log-view"
          onScroll={(e) => {
            const el = e.currentTarget;
            follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
          }}
        >
          {entries.map((e, i) => (
            <div className={`log-line lvl-${e.level}`} key={i}>
              <span className="log-ts">{time(e.timestamp)}</span>
              <span className={`log-lvl`}>{e.level}</span>
              <span className="log-msg">
                {e.message}
                {Object.entries(e.fields).map(([k, v]) => (
                  <span className="log-field" key={k}>
                    {k}=<b>{v}</b>
                  </span>
                ))}
              </span>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
