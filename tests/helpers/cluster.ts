/**
 * A real cluster on one machine for tests: every node is a Tensor Box server in its own network namespace (its own
 * address, its own sandbox links and firewall) and its own mount namespace, where it mounts the shared store — a real
 * GlusterFS volume served by the host over the network, mounted by each node through FUSE at the same path. (This
 * machine's kernel has no NFS client or server; GlusterFS is the shared file system that runs here. docs/cluster.md
 * says what else works.) All nodes use one PostgreSQL, reached over the network like the store.
 *
 * Addresses: the host owns 10.201.0.1 (an empty bridge: PostgreSQL and GlusterFS listen there); node i's link is
 * `tcn<i>` on the host (10.201.<i>.1/30) and `eth0` in its namespace (10.201.<i>.2/30, default route via the host).
 * Link names deliberately do not start with `tb`, the prefix the sandbox firewall matches.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startPostgres, type PostgresInstance } from './postgres.js';

const exec = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../..');
export const HOST_ADDRESS = '10.201.0.1';
const NODE_PORT = 3000;

async function sh(cmd: string, args: string[]): Promise<string> {
  try {
    return (await exec(cmd, args)).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}
const quiet = (cmd: string, args: string[]) => sh(cmd, args).catch(() => '');

export interface ClusterNode {
  nodeId: string;
  /** The node's own address (in its namespace) and its API URL. */
  address: string;
  url: string;
  netns: string;
  dataDir: string;
  process: ChildProcess;
  logFile: string;
  log(): string;
  /** SIGKILL, as a crashed machine: no clean-up of its sandboxes. */
  crash(): Promise<void>;
  stop(): Promise<void>;
  /** Starts the node's server again (after a crash or stop): same data dir, same ID, same address. */
  restart(): Promise<void>;
}

export interface Cluster {
  nodes: ClusterNode[];
  apiKey: string;
  databaseUrl: string;
  /** The shared store's mount path inside every node (not mounted on the host). */
  sharedPath: string;
  /** SDK connection options for node i (0-based). */
  conn(i: number): { domain: string; apiKey: string };
  close(): Promise<void>;
}

/** A GlusterFS volume on a brick in a temp dir, served by the host's glusterd (started here when not running). */
async function startGluster(name: string): Promise<{ volume: string; stop(): Promise<void> }> {
  let startedDaemon: ChildProcess | undefined;
  if (!(await quiet('pgrep', ['-x', 'glusterd'])).trim()) {
    startedDaemon = spawn('glusterd', ['-N', '--log-file', path.join(os.tmpdir(), 'tb-glusterd.log')], {
      stdio: 'ignore',
    });
    for (let i = 0; i < 100 && !(await quiet('gluster', ['--mode=script', 'peer', 'status'])); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const brick = mkdtempSync(path.join(os.tmpdir(), 'tb-brick-'));
  // `force`: the brick is on the root file system, which GlusterFS otherwise refuses.
  await sh('gluster', ['--mode=script', 'volume', 'create', name, `${HOST_ADDRESS}:${brick}`, 'force']);
  await sh('gluster', ['--mode=script', 'volume', 'start', name]);
  return {
    volume: name,
    async stop() {
      await quiet('gluster', ['--mode=script', 'volume', 'stop', name, 'force']);
      await quiet('gluster', ['--mode=script', 'volume', 'delete', name]);
      rmSync(brick, { recursive: true, force: true });
      if (startedDaemon) {
        startedDaemon.kill('SIGTERM');
        await quiet('pkill', ['-x', 'glusterfsd']);
      }
    },
  };
}

/** The host's dummy link carrying 10.201.0.1, made once and left (idempotent). */
async function ensureHostAddress(): Promise<void> {
  if (!(await quiet('ip', ['-br', 'addr', 'show', 'tcs0'])).includes(HOST_ADDRESS)) {
    await quiet('ip', ['link', 'add', 'tcs0', 'type', 'bridge']); // no dummy driver in every kernel
    await sh('ip', ['addr', 'replace', `${HOST_ADDRESS}/32`, 'dev', 'tcs0']);
    await sh('ip', ['link', 'set', 'tcs0', 'up']);
  }
  await sh('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
}

async function makeNodeNetwork(i: number, netns: string): Promise<string> {
  const hostIf = `tcn${i}`;
  await quiet('ip', ['netns', 'del', netns]);
  await quiet('ip', ['link', 'del', hostIf]);
  await sh('ip', ['netns', 'add', netns]);
  await sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  await sh('ip', ['addr', 'add', `10.201.${i}.1/30`, 'dev', hostIf]);
  await sh('ip', ['link', 'set', hostIf, 'up']);
  const inNs = (args: string[]) => sh('ip', ['netns', 'exec', netns, ...args]);
  await inNs(['ip', 'addr', 'add', `10.201.${i}.2/30`, 'dev', 'eth0']);
  await inNs(['ip', 'link', 'set', 'eth0', 'up']);
  await inNs(['ip', 'link', 'set', 'lo', 'up']);
  await inNs(['ip', 'route', 'add', 'default', 'via', `10.201.${i}.1`]);
  return `10.201.${i}.2`;
}

async function waitHealthy(url: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`node exited (${child.exitCode}):\n${tail(logFile)}`);
    try {
      if ((await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) })).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`node at ${url} not healthy after ${timeoutMs} ms:\n${tail(logFile)}`);
}

const tail = (file: string) => {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '';
  }
};

/**
 * What a dead machine takes with it: every process left in the node's network namespace (sandbox shims) and every
 * sandbox of its data dir (their cgroups are killed and removed).
 */
async function reapNode(netns: string, dataDir: string): Promise<void> {
  for (const pid of (await quiet('ip', ['netns', 'pids', netns])).split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  let ids: string[] = [];
  try {
    ids = readdirSync(path.join(dataDir, 'sandboxes'));
  } catch {
    /* never made one */
  }
  for (const id of ids) {
    const cg = path.join('/sys/fs/cgroup/tensor-box', id);
    try {
      writeFileSync(path.join(cg, 'cgroup.kill'), '1');
    } catch {
      /* not there */
    }
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(cg);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

export interface ClusterOptions {
  nodes: number;
  /** Extra environment for every node (e.g. a shorter lease). */
  env?: Record<string, string>;
}

/** Starts PostgreSQL, the shared store and `nodes` servers; node i answers at http://10.201.<i+1>.2:3000. */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  await ensureHostAddress();
  const tag = `tbc${process.pid % 100000}`;
  const root = mkdtempSync(path.join(os.tmpdir(), 'tb-cluster-'));
  const sharedPath = path.join(root, 'shared');
  mkdirSync(sharedPath);
  const apiKey = `e2b_${'c1'.repeat(16)}`;
  const cleanups: Array<() => Promise<void>> = [];
  const nodes: ClusterNode[] = [];
  let pg: PostgresInstance | undefined;
  const close = async () => {
    for (const n of nodes) await n.stop().catch(() => {});
    for (const c of cleanups.reverse()) await c().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  };
  try {
    pg = await startPostgres({ listen: HOST_ADDRESS, allowCidr: '10.201.0.0/16' });
    cleanups.push(() => pg!.stop());
    const databaseUrl = await pg.createDatabase();
    const gluster = await startGluster(tag);
    cleanups.push(() => gluster.stop());
    const server = path.join(REPO, 'packages/server/src/main.ts');
    for (let k = 0; k < opts.nodes; k++) {
      const i = k + 1;
      const netns = `${tag}n${i}`;
      const address = await makeNodeNetwork(i, netns);
      cleanups.push(async () => {
        await reapNode(netns, path.join(root, `node${i}`));
        await quiet('ip', ['netns', 'del', netns]);
        await quiet('ip', ['link', 'del', `tcn${i}`]);
      });
      const dataDir = path.join(root, `node${i}`);
      mkdirSync(dataDir);
      const logFile = path.join(root, `node${i}.log`);
      const env = {
        ...process.env,
        TENSOR_BOX_HOST: address,
        TENSOR_BOX_PORT: String(NODE_PORT),
        TENSOR_BOX_DATA_DIR: dataDir,
        TENSOR_BOX_NODE_ID: `node-${i}`,
        TENSOR_BOX_API_KEY: apiKey,
        DATABASE_URL: databaseUrl,
        TENSOR_BOX_SNAPSHOT_DIR: path.join(sharedPath, 'snapshots'),
        TENSOR_BOX_TEMPLATE_DIR: path.join(sharedPath, 'templates'),
        TENSOR_BOX_SWEEP_MS: '200',
        ...opts.env,
      };
      // Own mount namespace: the FUSE mount of the shared volume exists only for this node (and its children).
      const script =
        `mount -t glusterfs ${HOST_ADDRESS}:/${gluster.volume} ${sharedPath} && exec node --import tsx ` + `${server}`;
      // nsenter, not `ip netns exec`: that remounts /sys for the namespace, which hides the cgroup file system.
      const nsArgs = [
        `--net=/run/netns/${netns}`,
        'unshare',
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        script,
      ];
      const url = `http://${address}:${NODE_PORT}`;
      const out = createWriteStream(logFile);
      const launch = () => {
        const c = spawn('nsenter', nsArgs, { env, cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
        c.stdout!.pipe(out, { end: false });
        c.stderr!.pipe(out, { end: false });
        return { child: c, exited: new Promise<void>((r) => c.once('exit', () => r())) };
      };
      let run = launch();
      const kill = async (signal: NodeJS.Signals) => {
        const { child: c, exited } = run;
        if (c.exitCode === null && c.signalCode === null) c.kill(signal);
        await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      };
      const node: ClusterNode = {
        nodeId: `node-${i}`,
        address,
        url,
        netns,
        dataDir,
        process: run.child,
        logFile,
        log: () => tail(logFile),
        crash: () => kill('SIGKILL'),
        stop: () => kill('SIGTERM'),
        async restart() {
          await kill('SIGTERM');
          run = launch();
          node.process = run.child;
          await waitHealthy(url, run.child, logFile, 600_000);
        },
      };
      nodes.push(node);
      const child = run.child;
      // One at a time: the first node builds the shared default template, the others find it.
      await waitHealthy(url, child, logFile, 600_000);
    }
    return {
      nodes,
      apiKey,
      databaseUrl,
      sharedPath,
      conn: (i) => ({ domain: nodes[i].url, apiKey }),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
