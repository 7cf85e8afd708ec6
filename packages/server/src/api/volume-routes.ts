/** Volumes (services/volume-service.ts): E2B's `/volumes…` paths, on the caller's team's volumes. */
import type { Route } from '../http/router.js';
import { op } from '../http/typed-route.js';
import type { VolumeService } from '../services/volume-service.js';

export function volumeRoutes(v: VolumeService): Route[] {
  return [
    op('GET', '/volumes', async () => ({ status: 200, body: await v.list() })),
    op('POST', '/volumes', async (c) => ({ status: 201, body: await v.create(c.body) })),
    op('GET', '/volumes/{volumeID}', async (c) => ({ status: 200, body: await v.get(c.params.volumeID) })),
    op('DELETE', '/volumes/{volumeID}', async (c) => {
      await v.delete(c.params.volumeID);
      return { status: 204 };
    }),
  ];
}
