/**
 * tensor-box — the TypeScript SDK for Tensor Box sandboxes.
 * @example
 * import { Sandbox } from 'tensor-box'
 * const sandbox = await Sandbox.create('default', { domain: 'http://127.0.0.1:3000', apiKey: 'e2b_…' })
 * console.log((await sandbox.commands.run('uname -a')).stdout)
 */
export {
  Sandbox,
  type SandboxMetrics,
  type SandboxLogEntry,
  type SandboxOpts,
  type Isolation,
  type SandboxConnectOpts,
  type SandboxOnResume,
  type PauseOpts,
  type LifecycleConfig,
  type SignedUrlOpts,
  type SandboxNetworkOpts,
} from './sandbox.js';
export { SandboxPaginator, type SandboxInfo, type SandboxListOpts, type SandboxState } from './sandbox-list.js';
export { Commands, CommandHandle, type CommandResult, type CommandStartOpts, type ProcessInfo } from './commands.js';
export { Pty, PtyHandle, type PtyCreateOpts, type PtyConnectOpts } from './pty.js';
export {
  Files,
  type WatchEvent,
  type WatchEventType,
  type WatchOpts,
  type WatchHandle,
  type EntryInfo,
  type WriteEntry,
  type WriteData,
  type FilesystemOpts,
} from './files.js';
export { Snapshot, type SnapshotInfo } from './snapshot.js';
export { Volume, type VolumeEntryStat, type VolumeInfo, type VolumeWriteOpts } from './volume.js';
export { Template, buildTemplate, type TemplateFn } from './template-fluent.js';
export {
  TemplateBuilder,
  waitForPort,
  waitForURL,
  waitForFile,
  waitForProcess,
  waitForTimeout,
  type TemplateOptions,
  type CopyOpts,
  type BuildOpts,
  type TemplateBuildInfo,
  type TemplateBuildRequest,
} from './template-builder.js';
export type {
  TemplateCreateOpts,
  TemplateCreated,
  TemplateBuildOpts,
  TemplateBuildStep,
  TemplateInfo,
  TemplateDetails,
  TemplateBuild,
  BaseImage,
  CommitOpts,
  CommitResult,
  BuildLogEntry,
  BuildStatus,
  BuildStatusReason,
  TemplateBuildStatus,
  WaitForBuildOpts,
  BuildStatusOpts,
  BuildLogsOpts,
} from './template.js';
export {
  Team,
  ApiKey,
  type TeamInfo,
  type TeamDetail,
  type TeamQuotas,
  type ApiKeyInfo,
  type CreatedApiKey,
} from './teams.js';
export type { ConnectionOpts } from './connection.js';
export * from './errors.js';
/**
 * The REST API's types, generated from spec/openapi.yaml (for clients of endpoints the SDK does not wrap, e.g. template
 * builds).
 */
export type { paths as ApiPaths, components as ApiComponents } from './api/schema.gen.js';
export { ClusterNode, type ClusterNodeInfo } from './nodes.js';
