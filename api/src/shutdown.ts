// The API's shutdown flag, shared by main.ts (which flips it on SIGTERM/SIGINT) and the
// routes (which answer 503 shutting_down and stop waiting on jobs once it is set).
export class ShutdownState {
  private readonly controller = new AbortController();

  get closing(): boolean {
    return this.controller.signal.aborted;
  }

  /** Fires once when shutdown begins: in-flight /command waits end on it. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  begin(): void {
    this.controller.abort();
  }
}
