/**
 * The resolver sandboxes with host-name egress rules talk to (their port-53 traffic, to any address, is redirected here
 * by egress.ts). It forwards queries to the host's upstream resolver and, when the name matches one of the sandbox's
 * allowOut host patterns, lets the sandbox reach the answer's IPv4 addresses for the answer's TTL — before the answer
 * reaches the sandbox, so its first connection already passes. Names that match nothing resolve normally unless the
 * sandbox denies everything else (`denyOut` holds 0.0.0.0/0): then they answer NXDOMAIN (no data leaves by DNS either).
 * The sandbox is known by its source address, which the reverse-path filter makes unforgeable.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { answerAddresses, emptyAnswer, firstQuestion } from './dns-wire.js';
import { hostAllowed } from './egress.js';

export interface DnsClient {
  ifname: string;
  patterns: string[];
  /** Deny everything not allowed: unmatched names get NXDOMAIN. */
  strict: boolean;
}

export interface DnsGuardOptions {
  /** `ip` or `ip:port` of the upstream resolver (default: the host's first nameserver). */
  upstream?: string;
  /** The sandbox an address belongs to, when it has host-name rules. */
  lookup(address: string): DnsClient | undefined;
  /** Called with resolved addresses of an allowed name, before the answer is returned. */
  allow(ifname: string, ips: string[], ttlSec: number): Promise<void>;
  log?: (msg: string) => void;
}

const UPSTREAM_TIMEOUT_MS = 3000;

export function hostNameserver(): string {
  try {
    const m = /^nameserver\s+(\d+\.\d+\.\d+\.\d+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'));
    if (m) return m[1];
  } catch {
    /* no resolv.conf */
  }
  return '127.0.0.1';
}

export class DnsGuard {
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  port = 0;

  constructor(private readonly opts: DnsGuardOptions) {}

  async start(): Promise<void> {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '0.0.0.0', () => resolve());
    });
    this.port = udp.address().port;
    udp.on('message', (msg, rinfo) => {
      void this.answer(msg, rinfo.address).then((out) => out && udp.send(out, rinfo.port, rinfo.address));
    });
    udp.on('error', (e) => this.opts.log?.(`dns guard: ${e.message}`));
    this.udp = udp;
    const tcp = net.createServer((c) => this.serveTcp(c));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.port, '0.0.0.0', () => resolve());
    });
    this.tcp = tcp;
  }

  stop(): void {
    this.udp?.close();
    this.tcp?.close();
  }

  private serveTcp(c: net.Socket): void {
    let buf = Buffer.alloc(0);
    c.setTimeout(10_000, () => c.destroy());
    c.on('error', () => c.destroy());
    c.on('data', async (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const out = await this.answer(Buffer.from(msg), c.remoteAddress?.replace(/^::ffff:/, '') ?? '');
        if (!out) return c.destroy();
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        c.write(Buffer.concat([len, out]));
      }
    });
  }

  /** The answer for a query from a sandbox address; undefined drops it. */
  async answer(query: Buffer, from: string): Promise<Buffer | undefined> {
    let q;
    try {
      q = firstQuestion(query);
    } catch {
      return undefined;
    }
    const client = this.opts.lookup(from);
    if (!q || !client) return emptyAnswer(query, 5);
    const allowed = hostAllowed(q.name, client.patterns);
    if (!allowed && client.strict) return emptyAnswer(query, 3);
    const response = await this.forward(query).catch(() => undefined);
    if (!response) return emptyAnswer(query, 2); // SERVFAIL
    if (allowed) {
      try {
        const found = answerAddresses(response);
        if (found.length) {
          const ttl = Math.min(...found.map((f) => f.ttlSec));
          await this.opts.allow(
            client.ifname,
            found.map((f) => f.ip),
            ttl,
          );
        }
      } catch (err) {
        this.opts.log?.(`dns guard: answer for ${q.name}: ${(err as Error).message}`);
        return emptyAnswer(query, 2);
      }
    }
    return response;
  }

  private forward(query: Buffer): Promise<Buffer> {
    const [host, port] = (this.opts.upstream ?? hostNameserver()).split(':');
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      const timer = setTimeout(() => {
        s.close();
        reject(new Error('upstream resolver timed out'));
      }, UPSTREAM_TIMEOUT_MS);
      s.on('message', (msg) => {
        if (msg.length >= 2 && msg.readUInt16BE(0) !== query.readUInt16BE(0)) return;
        clearTimeout(timer);
        s.close();
        resolve(msg);
      });
      s.on('error', (e) => {
        clearTimeout(timer);
        s.close();
        reject(e);
      });
      s.send(query, Number(port || 53), host);
    });
  }
}
