/**
 * Registry images as template root filesystems: `pullImage` turns an image reference into a flattened rootfs directory
 * (cached per manifest digest, hard-linked into place), `listRegistryImages` says what a registry offers. See pull.ts
 * for the cache layout and unpack.ts for how layers and whiteouts are applied.
 */
export { parseImageRef, formatImageRef, type ImageRef } from './reference.js';
export type { RegistryConfig } from './registry-client.js';
export type { ImageConfig } from './manifest.js';
export { pullImage, resolveImage, type PullOptions } from './pull.js';
export { listRegistryImages } from './catalog.js';
