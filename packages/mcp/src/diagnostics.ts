/**
 * Names of the diagnostics the MCP adapters add to the session activity's own (`heartbeat`, `idle`, `dead_peer`,
 * `activity_at_shutdown`, …). They carry counts, names and durations only, never tool arguments, results, progress
 * messages, tokens or URLs (spec S10).
 *
 * Server side ({@link createServerKeepalive}):
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `progress_unavailable` | info | `fallback`: `'sse_comment'` (the request's response stream is known: comments go out whenever it can take one) or `'none'`; once per request without a `progressToken` |
 * | `invalid_progress` | warn | `problem`: `progress`, `total`, `message` or `not_increasing`; once per request and problem |
 * | `progress_failed` | warn | `error` (the error's name); once per request |
 * | `invalid_extra` | warn | — : the wrapped handler was called without the SDK's `extra`; it runs without keep-alives |
 * | `tool_call_ended` | debug | `outcome` (`completed`, `failed`, `aborted`, `closed`), `duration_ms`, `progress_sent`, `comments_sent` |
 * | `keepalive_closed` | warn | — : a tool ran after `close()`; it runs without keep-alives (once) |
 *
 * Client side ({@link createClientKeepalive}):
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `ping_failed` | debug | `error` (the error's name): a ping rejected (its answer is then simply missing) |
 * | `calls_aborted` | warn | `reason` (`dead_peer`), `calls` (how many in-flight calls were aborted) |
 * | `listener_failed` | warn | `listener` (`onprogress` or `onDeadPeer`), `error` (the error's name) |
 */
export const MCP_DIAGNOSTICS = Object.freeze({
  progressUnavailable: 'progress_unavailable',
  invalidProgress: 'invalid_progress',
  progressFailed: 'progress_failed',
  invalidExtra: 'invalid_extra',
  toolCallEnded: 'tool_call_ended',
  keepaliveClosed: 'keepalive_closed',
  pingFailed: 'ping_failed',
  callsAborted: 'calls_aborted',
  listenerFailed: 'listener_failed',
} as const);
