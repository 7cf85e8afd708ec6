/**
 * Long-lived connections opened with an API key (terminal and watch WebSockets, streams through the ingress): closed
 * the moment their key is revoked. A revocation on this node closes them at once; one on another node is noticed by a
 * poll (every `pollMs`) that asks the store whether each key with open connections still exists.
 */
export class KeyWatch {
  private open = new Map<string, Set<() => void>>();
  private timer?: NodeJS.Timeout;
  private polling = false;

  constructor(
    private keyExists: (keyId: string) => Promise<boolean>,
    private pollMs = 2000,
  ) {}

  /** Remembers a connection of `keyId`; `close` ends it. Returns the function that forgets it (call on close). */
  track(keyId: string, close: () => void): () => void {
    let set = this.open.get(keyId);
    if (!set) this.open.set(keyId, (set = new Set()));
    set.add(close);
    this.ensureTimer();
    return () => {
      set!.delete(close);
      if (!set!.size && this.open.get(keyId) === set) this.open.delete(keyId);
    };
  }

  /** Closes every connection of a revoked key. */
  revoked(keyId: string): void {
    const set = this.open.get(keyId);
    this.open.delete(keyId);
    for (const close of set ?? []) close();
  }

  /** Open connections per key (tests, diagnostics). */
  count(keyId: string): number {
    return this.open.get(keyId)?.size ?? 0;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private ensureTimer() {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  private async poll() {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const keyId of [...this.open.keys()])
        if (!(await this.keyExists(keyId).catch(() => true))) this.revoked(keyId);
      if (!this.open.size) this.stop();
    } finally {
      this.polling = false;
    }
  }
}
