/**
 * A private, throw-away PostgreSQL server for tests: `initdb` into a temp dir, `pg_ctl start` on a free loopback port
 * with its unix socket in that dir, stopped and removed by `stop()`. It never touches a system cluster (Debian's
 * postinst may have made one on 5432). initdb refuses to run as root, so as root the server runs as the `postgres`
 * OS user (made by the Debian package `postgresql`, which setup installs).
 */
import { execFile } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const exec = promisify(execFile);

export interface PostgresInstance {
  /** URL of the `postgres` database (superuser, trust auth on loopback). */
  url: string;
  port: number;
  /** Creates an empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

/** The bin dir of the newest PostgreSQL under /usr/lib/postgresql (Debian's layout). */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

let dbCounter = 0;

export interface PostgresOptions {
  /** Listen on this address instead of 127.0.0.1 (a cluster's nodes reach it over their own links). */
  listen?: string;
  /** Trust connections from this CIDR too (pg_hba). */
  allowCidr?: string;
}

/** Starts a fresh PostgreSQL server; rejects with initdb's or the server log's words when it cannot. */
export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresInstance> {
  const listen = opts.listen ?? '127.0.0.1';
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); run `npm run setup`');
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-pg-'));
  if (root) {
    const { stdout } = await exec('id', ['-u', 'postgres']);
    const { stdout: gid } = await exec('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const as = (cmd: string, args: string[]) =>
    root ? exec('runuser', ['-u', 'postgres', '--', cmd, ...args]) : exec(cmd, args);
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const port = await freePort();
  try {
    await as(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    if (opts.allowCidr) appendFileSync(path.join(data, 'pg_hba.conf'), `host all all ${opts.allowCidr} trust\n`);
    await as(path.join(bin, 'pg_ctl'), [
      'start',
      '-D',
      data,
      '-l',
      logFile,
      '-w',
      '-t',
      '60',
      // Durability is pointless for a throw-away database; fsync off keeps the tests quick on a shared disk.
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=${listen} -c fsync=off -c synchronous_commit=off -c ` +
        `full_page_writes=off`,
    ]);
  } catch (err) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start a test PostgreSQL: ${(err as Error).message}\n${log}`);
  }
  const url = `postgres://postgres@${listen}:${port}/postgres`;
  return {
    url,
    port,
    async createDatabase(name = `tb_${process.pid}_${dbCounter++}`) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@${listen}:${port}/${name}`;
    },
    async stop() {
      await as(path.join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'fast', '-w', '-t', '60']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
