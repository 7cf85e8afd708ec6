/**
 * The REST surface as one table: each row parses nothing beyond what the spec validated and calls one service method.
 */
import type { IncomingMessage } from 'node:http';
import type { Route } from '../http/router.js';
import type { SandboxService } from '../services/sandbox-service.js';
import type { TemplateService } from '../services/template-service.js';
import { wireState } from '../lifecycle/states.js';
import { templateToApi } from '../services/template-service.js';
import { ApiError } from '../errors.js';
import type { Authenticator } from '../teams/authenticate.js';
import { canSee, currentCaller, withCaller } from '../teams/caller.js';
import type { TeamService } from '../teams/team-service.js';
import { teamRoutes } from './team-routes.js';
import type { TemplateRecord } from '../store/store.js';

export interface Services {
  sandboxes: SandboxService;
  templates: TemplateService;
  teams: TeamService;
  auth: Authenticator;
}

/** Templates a caller lists: its team's and the public ones. */
const listable = (t: TemplateRecord) => t.public || canSee(t.teamId);

const nextTokenHeader = (t?: string): Record<string, string> => (t ? { 'X-Next-Token': t } : {});

export function routes(s: Services): Route[] {
  const create: Route['handler'] = async (c) => ({ status: 201, body: await s.sandboxes.create(c.body) });
  const listTemplates: Route['handler'] = async () => {
    const visible = (await s.templates.list()).filter(listable);
    return { status: 200, body: visible.map(templateToApi) };
  };
  const connect: Route['handler'] = async (c) => {
    const r = await s.sandboxes.connect(c.params.sandboxID, c.body?.timeout);
    return { status: r.resumed ? 201 : 200, body: r.sandbox };
  };
  return [
    { method: 'GET', path: '/health', auth: false, handler: () => ({ status: 204 }) },

    // Current E2B SDKs use the /v2 paths for create and connect; older ones the plain ones. Same handlers, but a /v2
    // create is always secured (E2B's NewSandboxV2): the agent gets a token, so signed file URLs work.
    { method: 'POST', path: '/sandboxes', handler: create },
    {
      method: 'POST',
      path: '/v2/sandboxes',
      handler: async (c) => ({ status: 201, body: await s.sandboxes.create({ ...c.body, secure: true }) }),
    },
    {
      method: 'GET',
      path: '/sandboxes',
      handler: async (c) => {
        const page = await s.sandboxes.list({ metadata: c.query.metadata, state: ['running'], limit: 100 });
        return { status: 200, body: page.items };
      },
    },
    {
      method: 'GET',
      path: '/v2/sandboxes',
      handler: async (c) => {
        const page = await s.sandboxes.list(c.query);
        return { status: 200, body: page.items, headers: nextTokenHeader(page.nextToken) };
      },
    },
    { method: 'GET', path: '/sandboxes/{sandboxID}', handler: async (c) => ({ status: 200, body: await s.sandboxes.detail(c.params.sandboxID) }) },
    {
      method: 'DELETE',
      path: '/sandboxes/{sandboxID}',
      handler: async (c) => {
        await s.sandboxes.kill(c.params.sandboxID);
        return { status: 204 };
      },
    },
    {
      method: 'PUT',
      path: '/sandboxes/{sandboxID}/network',
      handler: async (c) => {
        await s.sandboxes.updateNetwork(c.params.sandboxID, c.body);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/sandboxes/{sandboxID}/timeout',
      handler: async (c) => {
        await s.sandboxes.setTimeout(c.params.sandboxID, c.body.timeout);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/sandboxes/{sandboxID}/pause',
      handler: async (c) => {
        await s.sandboxes.pause(c.params.sandboxID);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/sandboxes/{sandboxID}/resume',
      handler: async (c) => {
        const cur = await s.sandboxes.get(c.params.sandboxID);
        if (wireState(cur.state) === 'running') throw new ApiError('conflict', `sandbox '${cur.sandboxId}' is already running`);
        const timeout = c.body?.timeout;
        const r = await s.sandboxes.resume(c.params.sandboxID, timeout === undefined ? undefined : timeout * 1000);
        return { status: 201, body: s.sandboxes.toSandbox(r) };
      },
    },
    {
      method: 'POST',
      path: '/sandboxes/{sandboxID}/snapshots',
      handler: async (c) => ({ status: 201, body: await s.sandboxes.createSnapshot(c.params.sandboxID, c.body?.name) }),
    },
    {
      method: 'POST',
      path: '/sandboxes/{sandboxID}/fork',
      handler: async (c) => ({ status: 201, body: await s.sandboxes.fork(c.params.sandboxID, { count: c.body?.count, timeout: c.body?.timeout }) }),
    },
    {
      method: 'GET',
      path: '/snapshots',
      handler: async (c) => {
        const page = await s.sandboxes.listSnapshots(c.query);
        return { status: 200, body: page.items, headers: nextTokenHeader(page.nextToken) };
      },
    },
    {
      method: 'DELETE',
      path: '/snapshots/{snapshotID}',
      handler: async (c) => {
        await s.sandboxes.deleteSnapshot(c.params.snapshotID);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/sandboxes/{sandboxID}/refreshes',
      handler: async (c) => {
        await s.sandboxes.refresh(c.params.sandboxID, c.body.duration);
        return { status: 204 };
      },
    },
    { method: 'POST', path: '/sandboxes/{sandboxID}/connect', handler: connect },
    { method: 'POST', path: '/v2/sandboxes/{sandboxID}/connect', handler: connect },
    {
      method: 'GET',
      path: '/sandboxes/{sandboxID}/metrics',
      handler: async (c) => ({ status: 200, body: await s.sandboxes.metrics(c.params.sandboxID, c.query.start, c.query.end) }),
    },
    {
      method: 'GET',
      path: '/sandboxes/metrics',
      handler: async (c) => ({ status: 200, body: { sandboxes: await s.sandboxes.latestMetrics(c.query.sandbox_ids ?? []) } }),
    },
    {
      method: 'GET',
      path: '/v2/sandboxes/{sandboxID}/logs',
      handler: async (c) => ({ status: 200, body: await s.sandboxes.logs(c.params.sandboxID, c.query) }),
    },
    {
      method: 'POST',
      path: '/sandboxes/{sandboxID}/ws-token',
      handler: async (c) => {
        await s.sandboxes.get(c.params.sandboxID);
        return { status: 201, body: s.auth.issueToken(c.params.sandboxID, currentCaller()) };
      },
    },
    // Templates (E2B's build API paths, plus base images and commit).
    { method: 'GET', path: '/templates', handler: listTemplates },
    { method: 'GET', path: '/v2/templates', handler: listTemplates },
    { method: 'POST', path: '/v3/templates', handler: async (c) => ({ status: 202, body: await s.templates.register(c.body) }) },
    { method: 'GET', path: '/templates/base-images', handler: async () => ({ status: 200, body: await s.templates.baseImages() }) },
    { method: 'GET', path: '/templates/aliases/{alias}', handler: async (c) => ({ status: 200, body: await s.templates.alias(c.params.alias) }) },
    { method: 'GET', path: '/templates/{templateID}', handler: async (c) => ({ status: 200, body: await s.templates.detail(c.params.templateID) }) },
    {
      method: 'PATCH',
      path: '/templates/{templateID}',
      handler: async (c) => {
        if (c.body?.public !== undefined) await s.templates.setPublic(c.params.templateID, c.body.public);
        return { status: 200, body: await s.templates.detail(c.params.templateID) };
      },
    },
    {
      method: 'POST',
      path: '/templates/tags',
      handler: async (c) => ({ status: 201, body: await s.templates.assignTags(c.body.target, c.body.tags) }),
    },
    {
      method: 'DELETE',
      path: '/templates/tags',
      handler: async (c) => {
        await s.templates.removeTags(c.body.name, c.body.tags);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/templates/{templateID}/tags',
      handler: async (c) => ({ status: 200, body: await s.templates.listTags(c.params.templateID) }),
    },
    {
      method: 'POST',
      path: '/v2/templates/{templateID}/builds/{buildID}',
      handler: async (c) => {
        await s.templates.startBuild(c.params.templateID, c.params.buildID, c.body);
        return { status: 202 };
      },
    },
    {
      method: 'GET',
      path: '/templates/{templateID}/builds/{buildID}/status',
      handler: async (c) => ({ status: 200, body: await s.templates.buildStatus(c.params.templateID, c.params.buildID, c.query) }),
    },
    {
      method: 'GET',
      path: '/templates/{templateID}/builds/{buildID}/logs',
      handler: async (c) => ({ status: 200, body: await s.templates.buildLogs(c.params.templateID, c.params.buildID, c.query) }),
    },
    {
      method: 'GET',
      path: '/templates/{templateID}/files/{hash}',
      handler: async (c) => {
        const link = await s.templates.filesLink(c.params.templateID, c.params.hash, requestBase(c.req));
        // Signed, so a client that PUTs to it without the key (E2B's SDK uploads to presigned URLs) is let in.
        const subject = `files:${c.params.templateID}:${c.params.hash}`;
        if (link.url) link.url += `?token=${encodeURIComponent(s.auth.issueToken(subject, currentCaller(), 3600).token)}`;
        return { status: 201, body: link };
      },
    },
    {
      method: 'PUT',
      path: '/templates/{templateID}/files/{hash}',
      rawBody: true,
      auth: false,
      handler: async (c) => {
        const token = typeof c.query.token === 'string' ? c.query.token : '';
        const caller = token
          ? await s.auth.fromToken(`files:${c.params.templateID}:${c.params.hash}`, token)
          : await s.auth.fromRequest(c.req);
        if (!caller) throw new ApiError('unauthenticated', 'the upload link is invalid, expired or its API key was revoked');
        await withCaller(caller, () => s.templates.putFiles(c.params.templateID, c.params.hash, c.req));
        return { status: 201 };
      },
    },
    { method: 'POST', path: '/sandboxes/{sandboxID}/commit', handler: async (c) => ({ status: 202, body: await s.sandboxes.commit(c.params.sandboxID, c.body) }) },
    {
      method: 'DELETE',
      path: '/templates/{templateID}',
      handler: async (c) => {
        const id = c.params.templateID;
        // Snapshots are templates too on E2B (its SDKs delete snapshots here).
        const isSnapshot = await s.sandboxes.deleteSnapshot(id).then(
          () => true,
          (err) => {
            if (err instanceof ApiError && err.kind === 'not_found') return false;
            throw err;
          },
        );
        if (!isSnapshot) await s.templates.delete(id);
        return { status: 204 };
      },
    },
    ...teamRoutes(s.teams),
  ];
}

/** The server's own base URL as the client reached it (for upload links). */
function requestBase(req: IncomingMessage): string {
  const host = req.headers['x-forwarded-host'] ?? req.headers.host ?? '127.0.0.1';
  const proto = req.headers['x-forwarded-proto'] ?? 'http';
  return `${proto}://${host}`;
}
