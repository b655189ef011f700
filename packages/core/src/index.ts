/**
 * @keepalive/core: a pure, sans-I/O state machine that keeps long-lived
 * sessions alive while they are busy. Events in (with monotonic `now`),
 * next state and commands out. No clock, no timers, no randomness, no I/O.
 *
 * @example
 * ```ts
 * import { createSessionState, transition } from '@keepalive/core';
 * let state = createSessionState({ heartbeatIntervalMs: 1_000 });
 * let commands;
 * [state, commands] = transition(state, { type: 'attach', now: 0 });
 * [state, commands] = transition(state, { type: 'start', reason: 'api_call', now: 0 });
 * [state, commands] = transition(state, { type: 'timeout', now: 1_000 });
 * // commands: heartbeat diagnostic, send, re-arm at 2000
 * ```
 *
 * @packageDocumentation
 */
export {
  CLOSE_CODES,
  NO_COMMANDS,
  type ArmTimer,
  type CancelTimer,
  type CloseReason,
  type CloseTransport,
  type Diagnostic,
  type DiagnosticFields,
  type DiagnosticLevel,
  type DiagnosticValue,
  type SendKeepalive,
  clearCommands,
} from './commands.js';
export { SESSION_DEFAULTS, SESSION_SCHEMA, defineSessionConfig, type SessionConfig, type SessionOptions } from './config.js';
export {
  KeepaliveOptionError,
  MAX_DURATION_MS,
  checkBoolean,
  checkDuration,
  checkInteger,
  checkKnownKeys,
  checkNumber,
  checkOptionalDuration,
  checkOptions,
  integerIn,
  nestedOptions,
  numberIn,
  optionOr,
  type OptionCheck,
  type OptionSchema,
} from './errors.js';
export { MAX_HEARTBEAT_BYTES, answerHeartbeat, checkHeartbeatMessage, utf8Length, type HeartbeatVerdict } from './heartbeat.js';
export {
  SESSION_DIAGNOSTICS,
  SESSION_TIMERS,
  countOf,
  createSessionState,
  lastToken,
  step,
  stepInPlace,
  type MutableSessionState,
  type StepOptions,
  transition,
  wantsHeartbeat,
  type Activity,
  type SessionCommand,
  type SessionEvent,
  type SessionEventBase,
  type SessionState,
  type SessionTimer,
  type SessionTransition,
} from './session.js';
export { armedTimers, deadlineOf, earliestDeadline, pollTimeout } from './deadlines.js';
export { summarize, type SessionSummary } from './summary.js';
export {
  checkLiveness,
  createLiveness,
  detectionBound,
  keepaliveSent,
  pongDeadlineAfterSend,
  proofOfLife,
  type LivenessState,
  type LivenessVerdict,
} from './liveness.js';
export {
  INITIAL_RTT,
  roundTripTime,
  rttAnswered,
  rttLost,
  rttSample,
  rttSent,
  type MutableRttFields,
  type RoundTripTime,
  type RttFields,
} from './rtt.js';
export {
  RECONNECT_DEFAULTS,
  RECONNECT_DIAGNOSTICS,
  backoffCeiling,
  createReconnectState,
  defineReconnectConfig,
  reconnectStep,
  reconnectTransition,
  type ConnectCommand,
  type ReconnectCommand,
  type ReconnectConfig,
  type ReconnectEvent,
  type ReconnectOptions,
  type ReconnectPhase,
  type ReconnectState,
} from './reconnect.js';
export {
  PING_POLICY_DEFAULTS,
  createPingPolicyState,
  definePingPolicy,
  pingFloodReason,
  pingPolicyStep,
  readPingFloodReason,
  type PingPolicyCommand,
  type PingPolicyConfig,
  type PingPolicyEvent,
  type PingPolicyOptions,
  type PingPolicyState,
} from './ping-policy.js';
export {
  PEER_DEFAULTS,
  PEER_DIAGNOSTICS,
  createPeerState,
  definePeerConfig,
  peerDeadline,
  peerStep,
  peerStepInPlace,
  type MutablePeerState,
  type PeerStepOptions,
  peerTransition,
  type InboundKind,
  type KeepaliveFrame,
  type PeerCommand,
  type PeerConfig,
  type PeerEvent,
  type PeerOptions,
  type PeerState,
  type PeerTimer,
  type PingPeer,
  type ReplyHeartbeat,
} from './peer.js';
export {
  CONNECTION_DEFAULTS,
  CONNECTION_OPTION_KEYS,
  PING_FLOOD_REASON,
  defineConnectionConfig,
  openConnection,
  type ConnectionConfig,
  type ConnectionOptions,
  type ConnectionReconnectOptions,
  type WhenIdle,
} from './connection.js';
export { canRestart, connect, connectionDeadline, connectionStep, connectionTransition, isTerminalClose, wantsSocket } from './kernel.js';
export {
  BACK_OFF_CLOSE_CODES,
  KERNEL_DEFAULTS,
  KERNEL_OPTION_KEYS,
  KERNEL_SCHEMA,
  TERMINAL_CLOSE_CODES,
  defineKernelConfig,
  kernelConfig,
  type KernelConfig,
  type KernelOptions,
  type KernelValues,
} from './kernel-options.js';
export {
  CONNECTION_DIAGNOSTICS,
  IDLE_CHURN_CYCLES,
  IDLE_CHURN_OPTIONS,
  TIMER,
  type CloseInfo,
  type CodecMode,
  type ConnectionCloseCause,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionPhase,
  type ConnectionState,
  type ConnectionTransition,
  type ConnectionUserEvent,
  type ConnectionWorkEvent,
  type InboundFrame,
  type KernelTimer,
  type ResumeTicket,
  type ShutdownReport,
} from './kernel-types.js';
export { heldMessages, layerState, type Host, type Layer } from './layer.js';
export { idleReadLayer, type IdleReadState } from './idle-read.js';
export { lazyParkLayer, type LazyParkState } from './lazy-park.js';
export { lifecycleLayer, type LifecycleState } from './lifecycle.js';
export { slowDownLayer, type SlowDownState } from './slow-down.js';
export { unconfirmedLayer, type UnconfirmedState } from './unconfirmed.js';
export {
  DELIVERY_DEFAULTS,
  DELIVERY_DIAGNOSTICS,
  createDeliveryState,
  defineDeliveryConfig,
  deliveryDeadline,
  deliveryStep,
  deliveryTransition,
  restoreDeliveryState,
  type DeliveryCommand,
  type DeliveryConfig,
  type DeliveryCounters,
  type DeliveryEvent,
  type DeliveryOptions,
  type DeliveryState,
} from './delivery.js';
export { isUnitInterval, nextRandom, toSeed, type RandomDraw } from './random.js';
export {
  admitConnection,
  canResumeSession,
  createServerSessionState,
  isEvictable,
  serverSessionDeadline,
  serverSessionStep,
  type Admission,
  type AdmissionCandidate,
  type AdmissionRequest,
  type ServerSessionCommand,
  type ServerSessionEvent,
  type ServerSessionPhase,
  type ServerSessionState,
} from './server-session.js';
export {
  CONTROL_PREFIX,
  MAX_SESSION_ID_LENGTH,
  RESUME_PARAMS,
  RESUME_PROTOCOL_VERSION,
  encodeAck,
  encodeHeartbeat,
  constantTimeEqual,
  encodeHello,
  encodePingAck,
  encodeProof,
  escapeText,
  isSessionId,
  isSessionSecret,
  parseCount,
  readPingAck,
  readResumeQuery,
  readResumeText,
  resumeQuery,
  type Hello,
  type HelloStatus,
  type Proof,
  type ResumeQueryProblem,
  type ResumeRequest,
  type ResumeText,
} from './wire.js';
export { heartbeatText, isWire, pingAck, readFrame, writeText, type FrameRead, type FrameReading } from './wire-codec.js';
export {
  readServerText,
  serverGreeted,
  serverHeartbeat,
  serverPingAck,
  serverReading,
  serverText,
  serverWireAfter,
  type ServerWireState,
} from './server-wire.js';
export {
  RESUME_DEFAULTS,
  RESUME_DIAGNOSTICS,
  createResumeState,
  defineResumeConfig,
  isResumeLayer,
  isResuming,
  resumeDeadline,
  resumeRequest,
  resumeStep,
  type NegotiatedStatus,
  type ResumeCommand,
  type ResumeConfig,
  type ResumeEvent,
  type ResumeOptions,
  type ResumePhase,
  type ResumeState,
} from './resume.js';
export { resumable, type ResumeLayer, type ResumeSlice, type ResumeWire } from './resume-layer.js';
