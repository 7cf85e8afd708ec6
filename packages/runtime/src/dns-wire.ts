/**
 * Just enough of the DNS wire format (RFC 1035) for the egress resolver: the first question's name and type, the IPv4
 * addresses and TTLs of a response's A records, and a refusal built from a query. Names may be compressed (pointers);
 * anything malformed throws.
 */

export interface Question {
  name: string;
  type: number;
}

/** Reads a possibly compressed name at `off`; returns it and the offset after it (in the original place). */
function readName(msg: Buffer, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  for (let hops = 0; hops < 64; hops++) {
    if (off >= msg.length) throw new Error('name runs past the message');
    const len = msg[off];
    if (len === 0) {
      return { name: labels.join('.'), next: next < 0 ? off + 1 : next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= msg.length) throw new Error('truncated pointer');
      if (next < 0) next = off + 2;
      off = ((len & 0x3f) << 8) | msg[off + 1];
      continue;
    }
    if (len > 63 || off + 1 + len > msg.length) throw new Error('bad label');
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
    off += 1 + len;
  }
  throw new Error('name has too many pointers');
}

/** The first question of a query, or undefined when there is none. */
export function firstQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) === 0) return undefined;
  const { name, next } = readName(msg, 12);
  if (next + 4 > msg.length) throw new Error('truncated question');
  return { name: name.toLowerCase(), type: msg.readUInt16BE(next) };
}

/** The A records of a response: addresses with their TTLs (seconds). */
export function answerAddresses(msg: Buffer): { ip: string; ttlSec: number }[] {
  if (msg.length < 12) throw new Error('short response');
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let off = 12;
  for (let i = 0; i < qd; i++) off = readName(msg, off).next + 4;
  const out: { ip: string; ttlSec: number }[] = [];
  for (let i = 0; i < an; i++) {
    off = readName(msg, off).next;
    if (off + 10 > msg.length) throw new Error('truncated record');
    const type = msg.readUInt16BE(off);
    const ttl = msg.readUInt32BE(off + 4);
    const rdlen = msg.readUInt16BE(off + 8);
    off += 10;
    if (off + rdlen > msg.length) throw new Error('truncated record data');
    if (type === 1 && rdlen === 4) out.push({ ip: [...msg.subarray(off, off + 4)].join('.'), ttlSec: ttl });
    off += rdlen;
  }
  return out;
}

/** A response to `query` with no answers and the given rcode (3 NXDOMAIN, 5 REFUSED), the question echoed. */
export function emptyAnswer(query: Buffer, rcode: number): Buffer {
  const q = firstQuestion(query);
  const end = q ? readName(query, 12).next + 4 : 12;
  const out = Buffer.from(query.subarray(0, end));
  out.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (rcode & 0xf), 2); // QR, RD copied, RA
  out.writeUInt16BE(q ? 1 : 0, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}
