/**
 * The ingress's list of agent paths reachable from outside, generated from spec/envd: every route the spec marks
 * `x-internal` is refused, every other one and every RPC service is allowed, and anything the spec does not list is
 * refused — including look-alikes of public paths an attacker would try.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENVD_HTTP_ROUTES, ENVD_RPC_SERVICES } from '../envd/spec.gen.js';
import { isPublicEnvdPath } from './route.js';

describe('envd public paths (generated from spec/envd)', () => {
  it('follows the spec: internal routes refused, public routes and RPC services allowed', () => {
    assert.ok(
      ENVD_HTTP_ROUTES.some((r) => r.internal && r.path === '/init'),
      'the spec marks /init internal',
    );
    assert.ok(
      ENVD_HTTP_ROUTES.some((r) => r.internal && r.path === '/quiesce'),
      'the spec marks /quiesce internal',
    );
    for (const r of ENVD_HTTP_ROUTES) {
      for (const url of [r.path, `${r.path}?path=/etc/passwd`]) {
        assert.equal(isPublicEnvdPath(url), !r.internal, `${r.method} ${url}`);
      }
    }
    for (const svc of ENVD_RPC_SERVICES) assert.ok(isPublicEnvdPath(`/${svc}/List`), svc);
  });

  it('refuses what the spec does not list, and look-alikes', () => {
    const refused = [
      '/',
      '/init',
      '/init?x=1',
      '/init/',
      '/quiesce',
      '/freeze',
      '/unfreeze',
      '/upgrade',
      '/initx',
      '/health2',
      '/healthz',
      '/files2',
      '/filesx?path=a',
      '/files/',
      '/files/../init',
      '/files/compose/x',
      '//init',
      '/envs/',
      '/process.Process',
      '/process.Processx/List',
      '/filesystem.Filesystem',
      '/metrics/x',
      '/INIT',
      '/Health',
    ];
    for (const url of refused) assert.equal(isPublicEnvdPath(url), false, url);
  });
});
