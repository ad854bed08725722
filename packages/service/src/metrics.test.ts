import { ConfigError } from '@gatehouse/config';
import { createLogger } from '@gatehouse/logger';
import {
  collectJobQueueDepth,
  createServiceMetrics,
  MAX_OPERATION_NAMES,
  METRIC_NAMES,
  metricsSettingsFromEnv,
} from './metrics';
import { parsePrometheusText, sampleValue } from './metrics.test-support';

const logger = createLogger({ name: 'metrics-test', level: 'silent' });

async function samples(metrics: ReturnType<typeof createServiceMetrics>) {
  return parsePrometheusText((await metrics.expose()).body);
}

describe('createServiceMetrics', () => {
  it('keeps services of one process apart: same names, separate registries, a service label each', async () => {
    const identity = createServiceMetrics({ service: 'identity', logger });
    const billing = createServiceMetrics({ service: 'billing', logger });
    identity.business.registrations.inc({ method: 'password' });
    identity.business.registrations.inc({ method: 'password' });
    billing.business.payments.inc({ outcome: 'succeeded' });

    const identitySamples = await samples(identity);
    expect(sampleValue(identitySamples, METRIC_NAMES.registrations, { method: 'password' })).toBe(2);
    expect(identitySamples.find((s) => s.name === METRIC_NAMES.registrations)?.labels.service).toBe(
      'identity',
    );
    expect(sampleValue(identitySamples, METRIC_NAMES.payments)).toBeUndefined();
    expect(sampleValue(await samples(billing), METRIC_NAMES.payments, { service: 'billing' })).toBe(1);
  });

  it('includes the process metrics, labelled with the service, unless told not to', async () => {
    const withProcess = await samples(createServiceMetrics({ service: 'gateway' }));
    expect(sampleValue(withProcess, 'process_cpu_user_seconds_total', { service: 'gateway' })).toEqual(
      expect.any(Number),
    );
    const without = await samples(createServiceMetrics({ service: 'gateway', processMetrics: false }));
    expect(without.some((s) => s.name.startsWith('process_'))).toBe(false);
  });

  it('lets modules register their own metrics, once', async () => {
    const metrics = createServiceMetrics({ service: 'account', processMetrics: false });
    const exports = metrics.counter({
      name: 'gatehouse_data_exports_total',
      help: 'Exports.',
      labelNames: ['format'],
    });
    expect(metrics.counter({ name: 'gatehouse_data_exports_total', help: 'Exports.' })).toBe(exports);
    exports.inc({ format: 'zip' });
    expect(() => metrics.gauge({ name: 'gatehouse_data_exports_total', help: 'x' })).toThrow(/another type/);
    expect(() => metrics.counter({ name: 'bad-name', help: 'x' })).toThrow(/Invalid metric name/);
    expect(sampleValue(await samples(metrics), 'gatehouse_data_exports_total', { format: 'zip' })).toBe(1);
  });

  it('bounds client-chosen operation names', () => {
    const metrics = createServiceMetrics({ service: 'gateway', processMetrics: false });
    expect(metrics.operationLabel(null)).toBe('anonymous');
    expect(metrics.operationLabel('has space')).toBe('other');
    expect(metrics.operationLabel('x'.repeat(65))).toBe('other');
    for (let i = 0; i < MAX_OPERATION_NAMES; i += 1) expect(metrics.operationLabel(`Op${i}`)).toBe(`Op${i}`);
    expect(metrics.operationLabel('OneTooMany')).toBe('other');
    expect(metrics.operationLabel('Op0')).toBe('Op0');
  });
});

describe('collectGauge', () => {
  it('reads the gauge at scrape time, at most once per interval', async () => {
    let clock = 0;
    const metrics = createServiceMetrics({ service: 'identity', processMetrics: false, now: () => clock });
    let count = 5;
    let calls = 0;
    metrics.collectGauge(
      metrics.gauges.activeSessions,
      async () => {
        calls += 1;
        return count;
      },
      { minIntervalMs: 10_000 },
    );
    expect(sampleValue(await samples(metrics), METRIC_NAMES.activeSessions)).toBe(5);
    count = 7;
    clock = 9_999;
    expect(sampleValue(await samples(metrics), METRIC_NAMES.activeSessions)).toBe(5);
    clock = 10_000;
    expect(sampleValue(await samples(metrics), METRIC_NAMES.activeSessions)).toBe(7);
    expect(calls).toBe(2);
  });

  it('sets one value per label set, dropping label sets that disappeared', async () => {
    const metrics = createServiceMetrics({ service: 'identity', processMetrics: false });
    let depths = [
      { labels: { queue: 'mail' }, value: 3 },
      { labels: { queue: 'export' }, value: 1 },
    ];
    metrics.collectGauge(metrics.gauges.jobQueueDepth, () => depths, { minIntervalMs: 0 });
    expect(sampleValue(await samples(metrics), METRIC_NAMES.jobQueueDepth, { queue: 'mail' })).toBe(3);
    depths = [{ labels: { queue: 'mail' }, value: 0 }];
    const after = await samples(metrics);
    expect(sampleValue(after, METRIC_NAMES.jobQueueDepth, { queue: 'mail' })).toBe(0);
    expect(sampleValue(after, METRIC_NAMES.jobQueueDepth, { queue: 'export' })).toBeUndefined();
  });

  it("reports a job queue's backlog per job name", async () => {
    const metrics = createServiceMetrics({ service: 'billing', processMetrics: false });
    collectJobQueueDepth(metrics, { depths: async () => ({ 'mail.send': 4, 'billing.invoice-paid': 0 }) });
    const scraped = await samples(metrics);
    expect(sampleValue(scraped, METRIC_NAMES.jobQueueDepth, { queue: 'mail.send' })).toBe(4);
    expect(sampleValue(scraped, METRIC_NAMES.jobQueueDepth, { queue: 'billing.invoice-paid' })).toBe(0);
  });

  it('keeps the last value and counts the failure when a collector throws', async () => {
    const metrics = createServiceMetrics({ service: 'identity', processMetrics: false });
    let fail = false;
    metrics.collectGauge(
      metrics.gauges.activeSessions,
      () => {
        if (fail) throw new Error('database down');
        return 4;
      },
      { minIntervalMs: 0 },
    );
    await samples(metrics);
    fail = true;
    expect(sampleValue(await samples(metrics), METRIC_NAMES.activeSessions)).toBe(4);
    // Collectors run while the scrape renders, so the failure shows from the next scrape on.
    const next = await samples(metrics);
    expect(sampleValue(next, METRIC_NAMES.activeSessions)).toBe(4);
    expect(sampleValue(next, METRIC_NAMES.metricCollectErrors, { metric: METRIC_NAMES.activeSessions })).toBe(
      2,
    );
  });

  it('refuses a gauge of another service', () => {
    const a = createServiceMetrics({ service: 'a', processMetrics: false });
    const b = createServiceMetrics({ service: 'b', processMetrics: false });
    expect(() => a.collectGauge(b.gauges.activeSessions, () => 1)).toThrow(/not in this registry/);
  });
});

describe('metricsSettingsFromEnv', () => {
  it('serves /metrics by default, without a token', () => {
    expect(metricsSettingsFromEnv({})).toEqual({ enabled: true });
  });

  it('reads the flag and the token', () => {
    expect(metricsSettingsFromEnv({ METRICS_ENABLED: 'false' })).toEqual({ enabled: false });
    expect(metricsSettingsFromEnv({ METRICS_ENABLED: '1', METRICS_TOKEN: 't'.repeat(32) })).toEqual({
      enabled: true,
      token: 't'.repeat(32),
    });
  });

  it('names every wrong variable, never the value', () => {
    let error: unknown;
    try {
      metricsSettingsFromEnv({ METRICS_ENABLED: 'maybe', METRICS_TOKEN: 'short-secret' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.variable)).toEqual([
      'METRICS_ENABLED',
      'METRICS_TOKEN',
    ]);
    expect((error as Error).message).not.toContain('short-secret');
  });
});
