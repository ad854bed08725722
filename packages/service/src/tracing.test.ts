import {
  currentTraceContext,
  formatTraceparent,
  parseTraceparent,
  runWithTraceContext,
  setTraceHeaders,
  traceContextFrom,
  type TraceContext,
} from './tracing';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${SPAN_ID}-01`;

describe('parseTraceparent', () => {
  it('accepts a valid version-00 header', () => {
    expect(parseTraceparent(VALID)).toEqual({ traceId: TRACE_ID, parentSpanId: SPAN_ID, traceFlags: 1 });
    expect(parseTraceparent(` 00-${TRACE_ID}-${SPAN_ID}-00 `)).toMatchObject({ traceFlags: 0 });
  });

  it('accepts a later version with extra fields, ignoring them', () => {
    expect(parseTraceparent(`01-${TRACE_ID}-${SPAN_ID}-01-future`)).toMatchObject({ traceId: TRACE_ID });
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['version ff', `ff-${TRACE_ID}-${SPAN_ID}-01`],
    ['upper-case hex', `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN_ID}-01`],
    ['all-zero parent id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['extra fields on version 00', `${VALID}-extra`],
    ['short trace id', `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`],
    ['wrong separators', `00_${TRACE_ID}_${SPAN_ID}_01`],
    ['non-hex flags', `00-${TRACE_ID}-${SPAN_ID}-zz`],
    ['a later version glued to more text', `01-${TRACE_ID}-${SPAN_ID}-01x`],
  ])('rejects %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe('traceContextFrom', () => {
  it('continues a valid traceparent with a new span id and keeps its tracestate', () => {
    const context = traceContextFrom({ traceparent: VALID, tracestate: 'vendor=abc' });
    expect(context).toMatchObject({ traceId: TRACE_ID, parentSpanId: SPAN_ID, traceFlags: 1 });
    expect(context.traceState).toBe('vendor=abc');
    expect(context.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(context.spanId).not.toBe(SPAN_ID);
    // Fetch-style headers work the same.
    expect(traceContextFrom(new Headers({ traceparent: VALID })).traceId).toBe(TRACE_ID);
  });

  it('starts a new sampled trace when the header is missing or invalid, dropping tracestate', () => {
    for (const headers of [{}, { traceparent: 'garbage', tracestate: 'vendor=abc' }, undefined]) {
      const context = traceContextFrom(headers);
      expect(context.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(context.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(context).toMatchObject({ traceFlags: 1 });
      expect(context.parentSpanId).toBeUndefined();
      expect(context.traceState).toBeUndefined();
    }
    expect(traceContextFrom({}).traceId).not.toBe(traceContextFrom({}).traceId);
  });

  it('refuses a repeated traceparent (two parents)', () => {
    expect(traceContextFrom({ traceparent: [VALID, VALID] }).traceId).not.toBe(TRACE_ID);
  });
});

describe('setTraceHeaders', () => {
  const context: TraceContext = {
    traceId: TRACE_ID,
    spanId: 'a'.repeat(16),
    traceFlags: 1,
    traceState: 'k=v',
  };

  it('names this service span as the parent of the downstream request', () => {
    const headers = new Headers({ traceparent: 'client-supplied' });
    setTraceHeaders(headers, context);
    expect(headers.get('traceparent')).toBe(`00-${TRACE_ID}-${'a'.repeat(16)}-01`);
    expect(headers.get('tracestate')).toBe('k=v');
    expect(parseTraceparent(formatTraceparent(context))).toMatchObject({ traceId: TRACE_ID });
  });

  it('uses the current request context, and does nothing outside one', async () => {
    const outside = new Headers();
    setTraceHeaders(outside);
    expect([...outside.keys()]).toEqual([]);

    const inside = new Headers();
    await runWithTraceContext(context, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      expect(currentTraceContext()).toBe(context);
      setTraceHeaders(inside);
    });
    expect(inside.get('traceparent')).toContain(TRACE_ID);
    expect(currentTraceContext()).toBeUndefined();
  });
});
