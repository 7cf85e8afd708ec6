/** Display helpers: sizes, relative times, durations. */

export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function mib(n: number): string {
  return n >= 1024 ? `${(n / 1024).toFixed(n % 1024 ? 1 : 0)} GiB` : `${n} MiB`;
}

/** "3m 20s", "2h 5m", "4d 1h". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "5m ago" / "in 2m". */
export function relative(d: Date | string | number | undefined, now = Date.now()): string {
  if (d === undefined) return '—';
  const t = new Date(d).getTime();
  if (!Number.isFinite(t)) return '—';
  const diff = t - now;
  if (Math.abs(diff) < 1500) return 'now';
  return diff < 0 ? `${duration(-diff)} ago` : `in ${duration(diff)}`;
}

export function dateTime(d: Date | string | number | undefined): string {
  if (d === undefined) return '—';
  const t = new Date(d);
  return Number.isFinite(t.getTime()) ? t.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '—';
}

export function time(d: Date | string | number): string {
  return new Date(d).toLocaleTimeString(undefined, { hour12: false });
}

/** `a=1, b=2` → {a: '1', b: '2'} (for metadata filters). */
export function parsePairs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(/[,&\s]+/)) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}
