import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync } from 'node:crypto';
import { isSpanContextValid, trace, TraceFlags } from '@opentelemetry/api';
import type { HeaderSource } from '@gatehouse/logger';

/** W3C Trace Context request header: `00-<trace-id>-<parent-id>-<flags>`. */
export const TRACEPARENT_HEADER = 'traceparent';
/** W3C vendor-specific trace data, forwarded untouched alongside a valid `traceparent`. */
export const TRACESTATE_HEADER = 'tracestate';
/**
 * W3C Trace Context Level 2 response header (`00-<trace-id>-<span-id>-<flags>`): tells a caller which trace its
 * request became part of. {@link TRACE_ID_HEADER} carries the bare trace id, for humans and support tickets.
 */
export const TRACERESPONSE_HEADER = 'traceresponse';
export const TRACE_ID_HEADER = 'x-trace-id';

/** Where this service's part of a request sits in a distributed trace. */
export interface TraceContext {
  /** 32 lower-case hex digits, shared by every service the request touches. */
  readonly traceId: string;
  /** 16 lower-case hex digits: this service's span, the parent of whatever it calls. */
  readonly spanId: string;
  /** The span id of the caller, when the request carried a valid `traceparent`. */
  readonly parentSpanId?: string;
  /** Bit 0 is "sampled": the caller may record this trace. */
  readonly traceFlags: number;
  /** The caller's `tracestate`, forwarded as is (only alongside a valid `traceparent`, as the spec says). */
  readonly traceState?: string;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const VERSION = /^[0-9a-f]{2}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
/** tracestate: at most 32 list members of printable ASCII (RFC: 512 characters is the propagation minimum). */
const TRACESTATE = /^[\x20-\x7e]{1,512}$/;

/**
 * Parses a `traceparent` header value by the W3C rules: version `ff` is invalid, all-zero ids are invalid,
 * version `00` is exactly 55 characters, and a later version may append `-`-separated fields this parser
 * ignores. Returns `undefined` for anything else: the caller then starts a new trace.
 */
export function parseTraceparent(
  value: string | undefined,
): { traceId: string; parentSpanId: string; traceFlags: number } | undefined {
  if (value === undefined) return undefined;
  const header = value.trim();
  if (header.length < 55) return undefined;
  const version = header.slice(0, 2);
  if (!VERSION.test(version) || version === 'ff') return undefined;
  if (version === '00' ? header.length !== 55 : header.length > 55 && header[55] !== '-') return undefined;
  if (header[2] !== '-' || header[35] !== '-' || header[52] !== '-') return undefined;
  const traceId = header.slice(3, 35);
  const parentSpanId = header.slice(36, 52);
  const flags = header.slice(53, 55);
  if (!HEX32.test(traceId) || traceId === ZERO_TRACE_ID) return undefined;
  if (!HEX16.test(parentSpanId) || parentSpanId === ZERO_SPAN_ID) return undefined;
  if (!VERSION.test(flags)) return undefined;
  return { traceId, parentSpanId, traceFlags: Number.parseInt(flags, 16) };
}

/** The `traceparent` value naming `context`'s span as the parent of a downstream request. */
export function formatTraceparent(context: Pick<TraceContext, 'traceId' | 'spanId' | 'traceFlags'>): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * Random bytes for ids, filled 4 KiB at a time: every request takes a span id and often a trace id, and one
 * `randomBytes` call per id was ~1.5 % of a service's CPU (docs/performance.md). Each byte is used once; ids are
 * not secrets, but they still come from the CSPRNG. (`randomUUID` pools the same way.)
 */
const randomPool = Buffer.alloc(4096);
let randomPoolOffset = randomPool.length;

function randomHex(bytes: number): string {
  // All-zero ids are invalid; with 64 or 128 random bits that never happens in practice, but it costs nothing.
  for (;;) {
    if (randomPoolOffset + bytes > randomPool.length) {
      randomFillSync(randomPool);
      randomPoolOffset = 0;
    }
    const hex = randomPool.toString('hex', randomPoolOffset, randomPoolOffset + bytes);
    randomPoolOffset += bytes;
    if (hex !== ZERO_TRACE_ID && hex !== ZERO_SPAN_ID) return hex;
  }
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof headers.get === 'function') {
    return (headers as { get(name: string): string | null | undefined }).get(name) ?? undefined;
  }
  const value = (headers as Readonly<Record<string, string | readonly string[] | undefined>>)[name];
  // A repeated traceparent is invalid (two parents); Node joins repeated unknown headers with ", ".
  return Array.isArray(value) ? (value.length === 1 ? (value[0] as string) : undefined) : (value as string);
}

/**
 * The trace context of an incoming request. With OpenTelemetry running ({@link startTracing}), the HTTP
 * instrumentation has already opened this request's server span (from the caller's `traceparent`, or as a new
 * root), and its ids are used, so logs and exported spans agree. Otherwise a valid `traceparent` is continued
 * with a fresh span id, and a missing or invalid one starts a new trace (sampled, so that a downstream service
 * that does export spans records it).
 */
export function traceContextFrom(headers: HeaderSource | undefined): TraceContext {
  const active = trace.getActiveSpan()?.spanContext();
  if (active && isSpanContextValid(active)) {
    const traceState = active.traceState?.serialize();
    return {
      traceId: active.traceId,
      spanId: active.spanId,
      traceFlags: active.traceFlags,
      ...(traceState ? { traceState } : {}),
    };
  }
  const parent = headers ? parseTraceparent(header(headers, TRACEPARENT_HEADER)) : undefined;
  if (!parent) return { traceId: randomHex(16), spanId: randomHex(8), traceFlags: TraceFlags.SAMPLED };
  const traceState = headers ? header(headers, TRACESTATE_HEADER)?.trim() : undefined;
  return {
    traceId: parent.traceId,
    spanId: randomHex(8),
    parentSpanId: parent.parentSpanId,
    traceFlags: parent.traceFlags,
    ...(traceState && TRACESTATE.test(traceState) ? { traceState } : {}),
  };
}

const storage = new AsyncLocalStorage<TraceContext>();

/** Runs `fn` (and everything it awaits) as part of `context`; see {@link currentTraceContext}. */
export function runWithTraceContext<T>(context: TraceContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The trace context of the request being served, or `undefined` outside a request (jobs, start-up). */
export function currentTraceContext(): TraceContext | undefined {
  return storage.getStore();
}

/** Anything headers can be set on: Fetch `Headers`, Apollo's `HeaderMap`, node-fetch's `Headers`. */
export interface SettableHeaders {
  set(name: string, value: string): unknown;
}

/**
 * Propagates the trace to a downstream request: sets `traceparent` (this service's span as the parent) and
 * `tracestate`, replacing whatever a client may have put there. Call it for every outgoing request made on a
 * request's behalf; the gateway calls it in its subgraph data source's `willSendRequest`. Without a trace
 * context (no request being served) it leaves the headers alone. With OpenTelemetry running, the HTTP
 * instrumentation overwrites `traceparent` with the id of its client span, which has the same trace id.
 */
export function setTraceHeaders(
  headers: SettableHeaders,
  context: TraceContext | undefined = currentTraceContext(),
): void {
  if (!context) return;
  headers.set(TRACEPARENT_HEADER, formatTraceparent(context));
  if (context.traceState) headers.set(TRACESTATE_HEADER, context.traceState);
}
