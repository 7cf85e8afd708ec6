/**
 * The REST surface as one table: each row parses nothing beyond what the spec validated and calls one service method.
 */
import type { IncomingMessage } from 'node:http';
import type { Route } from '../http/router.js';
import { op, type OpHandler } from '../http/typed-route.js';
import type { SandboxService } from '../services/sandbox-service.js';
import type { TemplateService } from '../services/template-service.js';
import { templateToApi } from '../services/template-service.js';
import { ApiError } from '../errors.js';
import type { Authenticator } from '../teams/authenticate.js';
import { canSee, currentCaller, withCaller } from '../teams/caller.js';
import type { TeamService } from '../teams/team-service.js';
import { teamRoutes } from './team-routes.js';
import type { NodeService } from '../cluster/node-service.js';
import { volumeRoutes } from './volume-routes.js';
import type { VolumeService } from '../services/volume-service.js';
import { secondsToMs } from './units.js';
import type { TemplateRecord } from '../store/store.js';

export interface Services {
  sandboxes: SandboxService;
  templates: TemplateService;
  teams: TeamService;
  auth: Authenticator;
  nodes: NodeService;
  volumes: VolumeService;
}

/** Templates a caller lists: its team's and the public ones. */
const listable = (t: TemplateRecord) => t.public || canSee(t.teamId);

const nextTokenHeader = (t?: string): Record<string, string> => (t ? { 'X-Next-Token': t } : {});

export function routes(s: Services): Route[] {
  const create: OpHandler<'/sandboxes', 'POST'> = async (c) => ({
    status: 201,
    body: await s.sandboxes.create(c.body),
  });
  const listTemplates = async () => {
    const visible = (await s.templates.list()).filter(listable);
    return { status: 200, body: visible.map(templateToApi) };
  };
  type ConnectPath = '/sandboxes/{sandboxID}/connect' | '/v2/sandboxes/{sandboxID}/connect';
  const connect: OpHandler<ConnectPath, 'POST'> = async (c) => {
    const r = await s.sandboxes.connect(c.params.sandboxID, secondsToMs(c.body?.timeout), c.body?.memory);
    return { status: r.resumed ? 201 : 200, body: r.sandbox };
  };
  return [
    op('GET', '/health', () => ({ status: 204 }), { auth: false }),

    // Current E2B SDKs use the /v2 paths for create and connect; older ones the plain ones. Same handlers, but a /v2
    // create is always secured (E2B's NewSandboxV2): the agent gets a token, so signed file URLs work.
    op('POST', '/sandboxes', create),
    op('POST', '/v2/sandboxes', async (c) => ({
      status: 201,
      body: await s.sandboxes.create({ ...c.body, secure: true }),
    })),
    op('GET', '/sandboxes', async (c) => {
      const page = await s.sandboxes.list({ metadata: c.query.metadata, state: ['running'], limit: 100 });
      return { status: 200, body: page.items };
    }),
    op('GET', '/v2/sandboxes', async (c) => {
      const page = await s.sandboxes.list(c.query);
      return { status: 200, body: page.items, headers: nextTokenHeader(page.nextToken) };
    }),
    op('GET', '/sandboxes/{sandboxID}', async (c) => ({
      status: 200,
      body: await s.sandboxes.detail(c.params.sandboxID),
    })),
    op('DELETE', '/sandboxes/{sandboxID}', async (c) => {
      await s.sandboxes.kill(c.params.sandboxID);
      return { status: 204 };
    }),
    op('PUT', '/sandboxes/{sandboxID}/network', async (c) => {
      await s.sandboxes.updateNetwork(c.params.sandboxID, c.body);
      return { status: 204 };
    }),
    op('POST', '/sandboxes/{sandboxID}/timeout', async (c) => {
      await s.sandboxes.setTimeout(c.params.sandboxID, c.body.timeout * 1000);
      return { status: 204 };
    }),
    op('POST', '/sandboxes/{sandboxID}/pause', async (c) => {
      await s.sandboxes.pause(c.params.sandboxID, 'requested', c.body?.memory ?? true);
      return { status: 204 };
    }),
    op('POST', '/sandboxes/{sandboxID}/resume', async (c) => {
      const timeoutMs = secondsToMs(c.body?.timeout);
      const r = await s.sandboxes.resumePaused(c.params.sandboxID, timeoutMs, c.body?.memory);
      return { status: 201, body: s.sandboxes.toSandbox(r) };
    }),
    op('POST', '/sandboxes/{sandboxID}/snapshots', async (c) => ({
      status: 201,
      body: await s.sandboxes.createSnapshot(c.params.sandboxID, c.body?.name),
    })),
    op('POST', '/sandboxes/{sandboxID}/fork', async (c) => ({
      status: 201,
      body: await s.sandboxes.fork(c.params.sandboxID, {
        count: c.body?.count,
        timeoutMs: secondsToMs(c.body?.timeout),
      }),
    })),
    op('GET', '/snapshots', async (c) => {
      const page = await s.sandboxes.listSnapshots(c.query);
      return { status: 200, body: page.items, headers: nextTokenHeader(page.nextToken) };
    }),
    op('DELETE', '/snapshots/{snapshotID}', async (c) => {
      await s.sandboxes.deleteSnapshot(c.params.snapshotID);
      return { status: 204 };
    }),
    op('POST', '/sandboxes/{sandboxID}/refreshes', async (c) => {
      await s.sandboxes.refresh(c.params.sandboxID, secondsToMs(c.body?.duration));
      return { status: 204 };
    }),
    op('POST', '/sandboxes/{sandboxID}/connect', connect),
    op('POST', '/v2/sandboxes/{sandboxID}/connect', connect),
    op('GET', '/sandboxes/{sandboxID}/metrics', async (c) => ({
      status: 200,
      body: await s.sandboxes.metrics(c.params.sandboxID, c.query.start, c.query.end),
    })),
    op('GET', '/sandboxes/metrics', async (c) => ({
      status: 200,
      body: { sandboxes: await s.sandboxes.latestMetrics(c.query.sandbox_ids ?? []) },
    })),
    op('GET', '/v2/sandboxes/{sandboxID}/logs', async (c) => ({
      status: 200,
      body: await s.sandboxes.logs(c.params.sandboxID, c.query),
    })),
    op('POST', '/sandboxes/{sandboxID}/ws-token', async (c) => {
      await s.sandboxes.get(c.params.sandboxID);
      return { status: 201, body: s.auth.issueToken(c.params.sandboxID, currentCaller()) };
    }),
    // Templates (E2B's build API paths, plus base images and commit).
    op('GET', '/templates', listTemplates),
    op('GET', '/v2/templates', listTemplates),
    op('POST', '/v3/templates', async (c) => ({ status: 202, body: await s.templates.register(c.body) })),
    op('GET', '/templates/base-images', async () => ({ status: 200, body: await s.templates.baseImages() })),
    op('GET', '/templates/aliases/{alias}', async (c) => ({
      status: 200,
      body: await s.templates.alias(c.params.alias),
    })),
    op('GET', '/templates/{templateID}', async (c) => ({
      status: 200,
      body: await s.templates.detail(c.params.templateID),
    })),
    op('PATCH', '/templates/{templateID}', async (c) => {
      if (c.body?.public !== undefined) await s.templates.setPublic(c.params.templateID, c.body.public);
      return { status: 200, body: await s.templates.detail(c.params.templateID) };
    }),
    op('POST', '/templates/tags', async (c) => ({
      status: 201,
      body: await s.templates.assignTags(c.body.target, c.body.tags),
    })),
    op('DELETE', '/templates/tags', async (c) => {
      await s.templates.removeTags(c.body.name, c.body.tags);
      return { status: 204 };
    }),
    op('GET', '/templates/{templateID}/tags', async (c) => ({
      status: 200,
      body: await s.templates.listTags(c.params.templateID),
    })),
    op('POST', '/v2/templates/{templateID}/builds/{buildID}', async (c) => {
      await s.templates.startBuild(c.params.templateID, c.params.buildID, c.body);
      return { status: 202 };
    }),
    op('GET', '/templates/{templateID}/builds/{buildID}/status', async (c) => ({
      status: 200,
      body: await s.templates.buildStatus(c.params.templateID, c.params.buildID, c.query),
    })),
    op('GET', '/templates/{templateID}/builds/{buildID}/logs', async (c) => ({
      status: 200,
      body: await s.templates.buildLogs(c.params.templateID, c.params.buildID, c.query),
    })),
    op('GET', '/templates/{templateID}/files/{hash}', async (c) => {
      const sign = (subject: string) => s.auth.issueToken(subject, currentCaller(), 3600).token;
      const link = await s.templates.filesLink(c.params.templateID, c.params.hash, requestBase(c.req), sign);
      return { status: 201, body: link };
    }),
    op(
      'PUT',
      '/templates/{templateID}/files/{hash}',
      async (c) => {
        const token = typeof c.query.token === 'string' ? c.query.token : '';
        const caller = token
          ? await s.auth.fromToken(`files:${c.params.templateID}:${c.params.hash}`, token)
          : await s.auth.fromRequest(c.req);
        if (!caller) {
          throw new ApiError('unauthenticated', 'the upload link is invalid, expired or its API key was revoked');
        }
        await withCaller(caller, () => s.templates.putFiles(c.params.templateID, c.params.hash, c.req));
        return { status: 201 };
      },
      { rawBody: true, auth: false },
    ),
    op('POST', '/sandboxes/{sandboxID}/commit', async (c) => ({
      status: 202,
      body: await s.sandboxes.commit(c.params.sandboxID, c.body),
    })),
    op('DELETE', '/templates/{templateID}', async (c) => {
      await deleteTemplateOrSnapshot(s, c.params.templateID);
      return { status: 204 };
    }),
    ...teamRoutes(s.teams),
    // The cluster's nodes (admin key).
    op('GET', '/nodes', async () => ({ status: 200, body: await s.nodes.list() })),
    op('POST', '/nodes/{nodeID}/drain', async (c) => ({ status: 200, body: await s.nodes.drain(c.params.nodeID) })),
    ...volumeRoutes(s.volumes),
  ];
}

/** The server's own base URL as the client reached it (for upload links). */
function requestBase(req: IncomingMessage): string {
  const host = req.headers['x-forwarded-host'] ?? req.headers.host ?? '127.0.0.1';
  const proto = req.headers['x-forwarded-proto'] ?? 'http';
  return `${proto}://${host}`;
}

/** DELETE /templates/{id}: snapshots are templates too on E2B (its SDKs delete snapshots here). */
async function deleteTemplateOrSnapshot(s: Services, id: string): Promise<void> {
  try {
    await s.sandboxes.deleteSnapshot(id);
  } catch (err) {
    if (!(err instanceof ApiError && err.kind === 'not_found')) throw err;
    await s.templates.delete(id);
  }
}
