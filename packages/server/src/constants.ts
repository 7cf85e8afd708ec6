/** Constants shared across the server. */

/** envd's port and protocol version come from spec/envd/envd.yaml (generated: envd/spec.gen.ts). */
export { ENVD_PORT, ENVD_VERSION } from './envd/spec.gen.js';

/**
 * Disk of templates that name none (the writable layer's limit, a sparse image): 10 GiB, what a host of a few hundred
 * GB can give many sandboxes; `TENSOR_BOX_DEFAULT_DISK_MB` changes it.
 */
export const DEFAULT_DISK_MB = 10 * 1024;

/** Sandbox disks the container driver keeps ready per disk size (`TENSOR_BOX_DISK_POOL` changes it; 0: none). */
export const DEFAULT_DISK_POOL_SIZE = 4;
