/**
 * The seccomp profile as data (seccomp/x86_64.profile) and its compiler (native/seccomp-compile.c, built by build.sh
 * into build/seccomp-compile): the profile never allows what a sandbox must not do, and the compiler refuses
 * profiles it cannot read instead of building a filter that silently allows or denies the wrong thing. The filter's
 * behaviour inside a sandbox is tested by tests/security/seccomp.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const profileFile = path.join(repo, 'packages/runtime/seccomp/x86_64.profile');
const compiler = path.join(repo, 'build/seccomp-compile');
const work = mkdtempSync(path.join(os.tmpdir(), 'tb-seccomp-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface Rule {
  verb: string;
  names: string[];
  condition?: string;
}

function rules(text: string): Rule[] {
  const out: Rule[] = [];
  for (const raw of text.split('\n')) {
    const words = raw.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (words[0] === 'allow') {
      const at = words.indexOf('if');
      const names = (at < 0 ? words.slice(1) : words.slice(1, at)).map((n) => n.replace(/=\d+$/, ''));
      out.push({ verb: 'allow', names, condition: at < 0 ? undefined : words.slice(at + 1).join(' ') });
    } else if (words[0] === 'errno') out.push({ verb: `errno ${words[1]}`, names: words.slice(2) });
  }
  return out;
}

/** What no sandbox may do; each was possible or denied only by the old deny-list. */
const NEVER = [
  'mount',
  'umount2',
  'pivot_root',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'move_mount',
  'open_tree',
  'mount_setattr',
  'unshare',
  'setns',
  'clone3',
  'init_module',
  'finit_module',
  'delete_module',
  'kexec_load',
  'kexec_file_load',
  'reboot',
  'swapon',
  'swapoff',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'keyctl',
  'add_key',
  'request_key',
  'acct',
  'settimeofday',
  'clock_settime',
  'clock_adjtime',
  'adjtimex',
  'iopl',
  'ioperm',
  'quotactl',
  'quotactl_fd',
  'lookup_dcookie',
  'uselib',
  'vhangup',
  'syslog',
  'open_by_handle_at',
  'name_to_handle_at',
  'sethostname',
  'setdomainname',
  'kcmp',
  'pidfd_getfd',
  'process_madvise',
];

function compile(profile: string): { status: number | null; stderr: string; header: string } {
  const src = path.join(work, `p-${Math.random().toString(36).slice(2)}.profile`);
  const out = `${src}.h`;
  writeFileSync(src, profile);
  const r = spawnSync(compiler, [src, out], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, header: existsSync(out) ? readFileSync(out, 'utf8') : '' };
}

const HEAD = 'arch x86_64\ndefault errno EPERM\nbadarch kill-process\n';

describe('seccomp profile', {
  skip: existsSync(compiler) ? false : 'build/seccomp-compile missing (npm run setup builds it)',
}, () => {
  const profile = rules(readFileSync(profileFile, 'utf8'));

  it('allows none of the dangerous syscalls, clone only without namespace flags, clone3 only as ENOSYS', () => {
    const allowedAlways = new Set(profile.filter((r) => r.verb === 'allow' && !r.condition).flatMap((r) => r.names));
    assert.deepEqual(
      NEVER.filter((n) => allowedAlways.has(n)),
      [],
    );
    const conditional = profile.filter((r) => r.verb === 'allow' && r.condition);
    assert.deepEqual(
      conditional.filter((r) => NEVER.includes(r.names[0]!)).map((r) => r.names),
      [],
    );
    const clone = profile.filter((r) => r.names.includes('clone'));
    assert.deepEqual(
      clone.map((r) => [r.verb, r.condition]),
      [['allow', 'arg0 & 0x7E020000 == 0']],
    );
    const clone3 = profile.filter((r) => r.names.includes('clone3'));
    assert.deepEqual(
      clone3.map((r) => r.verb),
      ['errno ENOSYS'],
    );
  });

  it('compiles to one BPF program for x86_64 that kills other architectures', () => {
    const r = compile(readFileSync(profileFile, 'utf8'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.header, /tb_seccomp_arch = 0xc000003eu/);
    assert.match(r.header, /\{0x0006, 0, 0, 0x80000000\}/, 'SECCOMP_RET_KILL_PROCESS for a foreign architecture');
    assert.match(r.header, /\{0x0006, 0, 0, 0x00050001\}/, 'SECCOMP_RET_ERRNO|EPERM by default');
    assert.match(r.header, /\{0x0006, 0, 0, 0x00050026\}/, 'SECCOMP_RET_ERRNO|ENOSYS for clone3');
  });

  it('refuses unknown syscalls, wrong numbers, foreign architectures and unreadable rules', () => {
    const cases: Array<[string, RegExp]> = [
      [`${HEAD}allow read no_such_call\n`, /no_such_call unknown/],
      [`${HEAD}allow read=1\n`, /number differs/],
      ['arch aarch64\ndefault errno EPERM\nbadarch kill-process\nallow read\n', /not this build host's/],
      [`${HEAD}allow clone if arg9 == 0\n`, /bad condition/],
      [`${HEAD}allow clone if arg0 ~ 0\n`, /unknown comparison/],
      [`${HEAD}permit read\n`, /cannot read the rule/],
      [`${HEAD}errno EWHAT read\n`, /unknown errno/],
      ['allow read\n', /must start with arch/],
    ];
    for (const [text, why] of cases) {
      const r = compile(text);
      assert.notEqual(r.status, 0, text);
      assert.match(r.stderr, why, text);
    }
  });
});
