/** Constants shared across the server. */
export const ENVD_PORT = 49983;
/**
 * Disk of templates that name none (the writable layer's limit, a sparse image): 10 GiB, what a host of a few hundred
 * GB can give many sandboxes; `TENSOR_BOX_DEFAULT_DISK_MB` changes it.
 */
export const DEFAULT_DISK_MB = 10 * 1024;
