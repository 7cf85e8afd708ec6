/** Constants shared across the server. */
export const ENVD_PORT = 49983;

/**
 * The envd protocol level our agent (packages/envd) speaks, in E2B envd's numbering. E2B's SDKs gate features on it:
 * 0.5.7 octet-stream uploads, 0.6.2 file metadata, 0.6.3 entry info in watch events, 0.6.4 watching network mounts;
 * E2B's envd changed nothing clients see from 0.6.4 to 0.6.13. Keep in step with `Version` in packages/envd.
 */
export const ENVD_VERSION = '0.6.13';

/**
 * Disk of templates that name none (the writable layer's limit, a sparse image): 10 GiB, what a host of a few hundred
 * GB can give many sandboxes; `TENSOR_BOX_DEFAULT_DISK_MB` changes it.
 */
export const DEFAULT_DISK_MB = 10 * 1024;
