/** Rows of key/value inputs (metadata, environment variables) with add/remove. */
import { Icon } from './icons';

export type Pair = { key: string; value: string };

export function toRecord(pairs: Pair[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const p of pairs) if (p.key.trim()) out[p.key.trim()] = p.value;
  return Object.keys(out).length ? out : undefined;
}

export function KvEditor({
  label,
  pairs,
  onChange,
  keyPlaceholder = 'key',
  valuePlaceholder = 'value',
  name,
}: {
  label: string;
  pairs: Pair[];
  onChange: (p: Pair[]) => void;
  keyPlaceholder?: string;
  valuePlaceholder?: string;
  name: string;
}) {
  const set = (i: number, p: Partial<Pair>) => onChange(pairs.map((x, j) => (j === i ? { ...x, ...p } : x)));
  return (
    <fieldset className="field kv">
      <legend>{label}</legend>
      {pairs.map((p, i) => (
        <div className="kv-row" key={i}>
          <input
            aria-label={`${name} key ${i + 1}`}
            name={`${name}-key-${i}`}
            placeholder={keyPlaceholder}
            value={p.key}
            onChange={(e) => set(i, { key: e.target.value })}
          />
          <input
            aria-label={`${name} value ${i + 1}`}
            name={`${name}-value-${i}`}
            placeholder={valuePlaceholder}
            value={p.value}
            onChange={(e) => set(i, { value: e.target.value })}
          />
          <button
            type="button"
            className="icon-btn"
            aria-label="Remove"
            onClick={() => onChange(pairs.filter((_, j) => j !== i))}
          >
            <Icon name="x" />
          </button>
        </div>
      ))}
      <button type="button" className="link-btn" onClick={() => onChange([...pairs, { key: '', value: '' }])}>
        <Icon name="plus" size={13} /> Add {name === 'env' ? 'variable' : 'entry'}
      </button>
    </fieldset>
  );
}
