/** ENV values in builds expand as Docker's do. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandEnv } from './build-runner.js';

describe('expandEnv', () => {
  const env = { PATH: '/usr/bin:/bin', HOME: '/root', EMPTY: '' };
  it('expands $VAR and ${VAR}', () => {
    assert.equal(expandEnv('/opt/bin:$PATH', env), '/opt/bin:/usr/bin:/bin');
    assert.equal(expandEnv('${HOME}/x', env), '/root/x');
  });
  it('leaves unset variables empty, and uses ${VAR:-default} for unset or empty ones', () => {
    assert.equal(expandEnv('a${NOPE}b$NOPE', env), 'ab');
    assert.equal(expandEnv('${NOPE:-dflt}|${EMPTY:-e}|${HOME:-h}', env), 'dflt|e|/root');
  });
  it('keeps an escaped dollar literal and text without variables as is', () => {
    assert.equal(expandEnv('cost \\$5 $', env), 'cost $5 $');
    assert.equal(expandEnv('plain', env), 'plain');
  });
});
