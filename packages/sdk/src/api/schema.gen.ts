/**
 * The REST API's types, generated once from spec/openapi.yaml into the workspace package @tensor-box/generated
 * (packages/generated/src/api.gen.ts, `npm run gen`). This file only re-exports them so existing imports keep working;
 * new code imports `@tensor-box/generated/api` directly.
 */
export type * from '@tensor-box/generated/api';
