/**
 * Why a tool call made through {@link createClientKeepalive} was aborted: the server did not answer an MCP `ping`
 * within `pingTimeoutMs` while the call was in flight, so the session activity's liveness rule (spec B5) declared it
 * dead. Detection takes at most `pingIntervalMs + pingTimeoutMs` from the moment the server stopped answering.
 */
export class McpDeadPeerError extends Error {
  /** The liveness verdict that aborted the call. */
  readonly verdict = 'dead_peer';
  /** How long an answer to a ping was waited for. */
  readonly pingTimeoutMs: number;
  /** How often pings go out while a call is in flight. */
  readonly pingIntervalMs: number;

  constructor(pingIntervalMs: number, pingTimeoutMs: number) {
    super(
      `MCP server declared dead (dead_peer, spec B5): no answer to ping within ${pingTimeoutMs} ms ` +
        `(pings every ${pingIntervalMs} ms while a call is in flight); the tool call was aborted`,
    );
    this.name = 'McpDeadPeerError';
    this.pingTimeoutMs = pingTimeoutMs;
    this.pingIntervalMs = pingIntervalMs;
  }
}

/**
 * A tool call refused or aborted because its {@link ClientKeepalive} was closed.
 */
export class McpKeepaliveClosedError extends Error {
  constructor() {
    super('the MCP client keep-alive is closed: the tool call was not made or was aborted');
    this.name = 'McpKeepaliveClosedError';
  }
}
