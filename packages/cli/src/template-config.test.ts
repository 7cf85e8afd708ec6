/** Unit tests of e2b.toml reading, writing and the in-place update of template_id/build_id. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'smol-toml';
import { ConfigError, parseConfig, renderConfig, updateConfigIds } from './template-config.js';

const SEED = `# TensorBox 模板配置(兼容 e2b.toml)
name = "agent-runtime"
from_template = "default" # ✅ 已验证路径
cpu_count = 4
memory_mb = 4096

[[steps]]
name = "deps"
command = "apt-get update && apt-get install -y ffmpeg python3-pip"

[[steps]]
name = "pip"
command = "pip install numpy pandas"
`;

function rejects(text: string, re: RegExp) {
  assert.throws(
    () => parseConfig(text),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match((err as Error).message, re);
      return true;
    },
  );
}

describe('parseConfig', () => {
  it("reads the seeds' example", () => {
    assert.deepEqual(parseConfig(SEED), {
      name: 'agent-runtime',
      fromTemplate: 'default',
      cpuCount: 4,
      memoryMB: 4096,
      steps: [
        { name: 'deps', command: 'apt-get update && apt-get install -y ffmpeg python3-pip' },
        { name: 'pip', command: 'pip install numpy pandas' },
      ],
    });
  });
  it("reads E2B's keys (template_name, template_id, dockerfile, start/ready cmd; team_id ignored)", () => {
    const cfg = parseConfig(
      'team_id = "t"\ntemplate_id = "abc"\nbuild_id = "b1"\ntemplate_name = "x"\ndockerfile = ' +
        '"e2b.Dockerfile"\nstart_cmd = "serve"\nready_cmd = "curl -sf localhost"\ndisk_gb = 10\n',
    );
    assert.deepEqual(cfg, {
      templateId: 'abc',
      buildId: 'b1',
      name: 'x',
      dockerfile: 'e2b.Dockerfile',
      startCmd: 'serve',
      readyCmd: 'curl -sf localhost',
      diskGB: 10,
      steps: [],
    });
  });
  it('reports invalid TOML with file, line and column', () => {
    rejects('name = "a"\ncpu_count = = 4\n', /^e2b\.toml:2:\d+: invalid TOML: /);
    rejects('name = "unterminated\n', /^e2b\.toml:1:\d+: invalid TOML/);
    assert.throws(
      () => parseConfig('x = [', 'dir/e2b.toml'),
      (err: Error) => /^dir\/e2b\.toml:1:\d+: invalid TOML/.test(err.message),
    );
  });
  it('refuses unknown keys, naming the line', () => {
    rejects('name = "a"\n\ncpus = 4\n', /^e2b\.toml:3: unknown key 'cpus'/);
    rejects(
      'name = "a"\n[[steps]]\ncommand = "x"\n[[steps]]\ncmd = "y"\n',
      /^e2b\.toml:4: unknown key 'cmd' in step 2/,
    );
  });
  it('checks types and sources', () => {
    rejects('cpu_count = "4"', /cpu_count must be a positive whole number/);
    rejects('memory_mb = 1.5', /memory_mb must be a positive whole number/);
    rejects('cpu_count = 0', /cpu_count must be a positive whole number/);
    rejects('name = ""', /name must be a non-empty string/);
    rejects('name = 3', /name must be a non-empty string/);
    rejects('name = "a"\ntemplate_name = "b"', /name or template_name, not both/);
    rejects('from_template = "default"\nfrom_image = "ubuntu:24.04"', /give one of .*from_template, from_image/);
    rejects('[[steps]]\nname = "x"\n', /step 1 needs a command/);
    rejects('steps = "x"', /steps must be an array of tables/);
    rejects('[steps]\ncommand = "x"\n', /steps must be an array of tables/);
    rejects('isolation = "vm"', /isolation must be one of container, microvm/);
    rejects('isolation = 1', /isolation must be one of container, microvm/);
  });
  it('reads and writes the isolation of its sandboxes', () => {
    assert.equal(parseConfig('isolation = "microvm"').isolation, 'microvm');
    assert.equal(parseConfig(renderConfig({ name: 'x', isolation: 'microvm' })).isolation, 'microvm');
    assert.equal(parseConfig('name = "x"').isolation, undefined);
  });
});

describe('renderConfig', () => {
  it('writes a file parseConfig reads back, with a commented steps example', () => {
    const text = renderConfig({
      name: 'agent-runtime',
      fromImage: 'ubuntu:24.04',
      cpuCount: 4,
      memoryMB: 4096,
      startCmd: 'python3 -c "print(1)"',
    });
    assert.match(text, /# \[\[steps\]\]/);
    assert.deepEqual(parseConfig(text), {
      name: 'agent-runtime',
      fromImage: 'ubuntu:24.04',
      cpuCount: 4,
      memoryMB: 4096,
      startCmd: 'python3 -c "print(1)"',
      steps: [],
    });
  });
  it('writes given steps', () => {
    const text = renderConfig({ name: 'a', fromTemplate: 'default', steps: [{ name: 's', command: 'echo "hi"' }] });
    assert.deepEqual(parseConfig(text).steps, [{ name: 's', command: 'echo "hi"' }]);
  });
});

describe('updateConfigIds', () => {
  it('adds template_id and build_id after the name, keeping comments and layout', () => {
    const out = updateConfigIds(SEED, { templateId: 'tpl1', buildId: 'b1' });
    const lines = out.split('\n');
    assert.equal(lines[1], 'name = "agent-runtime"');
    assert.equal(lines[2], 'template_id = "tpl1"');
    assert.equal(lines[3], 'build_id = "b1"');
    assert.equal(out.replace('template_id = "tpl1"\nbuild_id = "b1"\n', ''), SEED);
  });
  it('replaces existing values in place', () => {
    const first = updateConfigIds(SEED, { templateId: 'tpl1', buildId: 'b1' });
    const second = updateConfigIds(first, { templateId: 'tpl1', buildId: 'b2' });
    assert.equal(second, first.replace('build_id = "b1"', 'build_id = "b2"'));
  });
  it('works without a name and without top-level keys', () => {
    const out = updateConfigIds('# only steps\n[[steps]]\ncommand = "x"\n', { templateId: 't', buildId: 'b' });
    assert.deepEqual(JSON.parse(JSON.stringify(parse(out))), {
      template_id: 't',
      build_id: 'b',
      steps: [{ command: 'x' }],
    });
    assert.match(out, /^# only steps\n/);
  });
  it('falls back to a rewrite when a line edit would change the meaning', () => {
    const tricky = 'start_cmd = """\ntemplate_id = "inside a string"\n"""\nname = "n"\n';
    const out = updateConfigIds(tricky, { templateId: 't', buildId: 'b' });
    const doc = parse(out) as Record<string, unknown>;
    assert.equal(doc.template_id, 't');
    assert.equal(doc.build_id, 'b');
    assert.equal(doc.start_cmd, 'template_id = "inside a string"\n');
  });
});
