export * from './driver.js';
export { ContainerDriver, ENVD_PORT, type ContainerDriverOptions } from './container.js';
export { DEFAULT_ID_MAP, type IdMap } from './user-namespace.js';
export { ensureFirewall, BLOCKED_EGRESS_CIDRS, type FirewallOptions } from './firewall.js';
export { SandboxCgroup, detectLayout, type CgroupLayout, type CgroupLimits, type CgroupUsage } from './cgroups.js';
export {
  buildDebianRootfs,
  DEFAULT_TEMPLATE_RECIPE,
  hostDebianMirror,
  recipeHash,
  type BuildDebianOptions,
  type DebianRecipe,
} from './rootfs/debian.js';
export {
  formatImageRef,
  listRegistryImages,
  parseImageRef,
  pullImage,
  resolveImage,
  type ImageConfig,
  type ImageRef,
  type PullOptions,
  type RegistryConfig,
} from './image/index.js';
export { parseEgressRules, type EgressRules } from './egress.js';
export { FakeDriver, type FakeSandbox } from './testing/fake-driver.js';
export { MicroVmDriver, type MicroVmDriverOptions } from './microvm/microvm-driver.js';
