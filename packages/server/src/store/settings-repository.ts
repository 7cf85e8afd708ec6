/**
 * The settings repository: install-wide key/value strings (the admin key's hash, the node's settings). Implemented by
 * sqlite-settings.ts and postgres-settings.ts.
 */

export interface SettingsRepository {
  getSetting(key: string): Promise<string | undefined>;
  /** Sets or overwrites. */
  setSetting(key: string, value: string): Promise<void>;
}
