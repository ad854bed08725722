/**
 * The configuration under deploy/observability is loaded by tools this repository cannot run (Prometheus,
 * Grafana, the OpenTelemetry collector, Vector). This checks what can be checked here: every file parses, the
 * references between them hold, and every metric a rule or a dashboard queries is one the services export, so
 * renaming a metric fails CI instead of silently emptying a panel or muting an alert.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_PORTS } from '@gatehouse/config';
import { parse as parseYaml } from 'yaml';
import { createServiceMetrics, METRIC_NAMES } from './metrics';

const DEPLOY = path.resolve(__dirname, '../../../deploy/observability');
const read = (file: string) => readFileSync(path.join(DEPLOY, file), 'utf8');
const yaml = <T>(file: string) => parseYaml(read(file), { strict: true, uniqueKeys: true }) as T;

/** Series names the services expose: every `# TYPE` line, histograms and summaries with their suffixes. */
async function exportedSeriesNames(): Promise<Set<string>> {
  const { body } = await createServiceMetrics({ service: 'deploy-test' }).expose();
  const names = new Set<string>(['up']); // Prometheus adds `up` to every scrape target.
  for (const [, name, type] of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name as string);
    if (type === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

const PROMQL_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions, keywords, label names in
 * matchers or grouping clauses, strings, durations or template variables.
 */
function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\$\w+/g, '')
    .replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/gi, '');
  const names: string[] = [];
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\(?))/g)) {
    const [token, paren] = [match[0], match[1]];
    if (paren === '(' || PROMQL_KEYWORDS.has(token.toLowerCase())) continue;
    names.push(token);
  }
  return names;
}

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ refId: string; expr: string; datasource?: { uid: string } }>;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; query?: { query: string } | string }> };
}

const dashboardFiles = readdirSync(path.join(DEPLOY, 'grafana/dashboards')).filter((f) =>
  f.endsWith('.json'),
);
const dashboards = dashboardFiles.map((file) => ({
  file,
  dashboard: JSON.parse(read(`grafana/dashboards/${file}`)) as Dashboard,
}));
const rules = yaml<{ groups: Array<{ name: string; rules: AlertRule[] }> }>(
  'prometheus/alerts.yml',
).groups.flatMap((group) => group.rules);

describe('metricNamesIn', () => {
  it('finds metric names and nothing else', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (service, le) (rate(gatehouse_http_request_duration_seconds_bucket{route="/graphql", service="$service"}[5m]))) > 1e3 and on (service) up == 1',
      ),
    ).toEqual(['gatehouse_http_request_duration_seconds_bucket', 'up']);
  });
});

describe('deploy/observability', () => {
  let exported: Set<string>;
  beforeAll(async () => {
    exported = await exportedSeriesNames();
  });

  it('exports every metric of the catalogue', () => {
    for (const name of Object.values(METRIC_NAMES)) expect(exported).toContain(name);
  });

  it('scrapes the gateway and the four subgraphs, each with a token (subgraphs refuse anyone else, issue #14)', () => {
    const config = yaml<{
      rule_files: string[];
      scrape_configs: Array<{
        job_name: string;
        metrics_path: string;
        authorization?: { type: string; credentials_file: string };
        static_configs: Array<{ targets: string[] }>;
      }>;
    }>('prometheus/prometheus.yml');
    expect(config.rule_files.some((file) => file.endsWith('/alerts.yml'))).toBe(true);
    const targets = config.scrape_configs.flatMap((job) => job.static_configs.flatMap((s) => s.targets));
    const expected = Object.entries(DEFAULT_PORTS).map(
      ([name, port]) => `${name.toLowerCase().replace(/_/g, '-')}:${port}`,
    );
    expect(targets.sort()).toEqual(expected.sort());
    for (const job of config.scrape_configs) expect(job.metrics_path).toBe('/metrics');
    const gateway = config.scrape_configs.find((job) =>
      job.static_configs.some((s) => s.targets.includes('gateway:4000')),
    );
    expect(gateway?.authorization).toMatchObject({ type: 'Bearer', credentials_file: expect.any(String) });
    for (const job of config.scrape_configs) {
      expect(job.authorization).toMatchObject({ type: 'Bearer', credentials_file: expect.any(String) });
    }
  });

  it('alerts on error rate, p95 latency, a service down and a queue backlog', () => {
    const byName = new Map(rules.map((rule) => [rule.alert, rule]));
    expect(byName.size).toBe(rules.length);
    for (const name of [
      'GatehouseServiceDown',
      'GatehouseHighErrorRate',
      'GatehouseHighLatencyP95',
      'GatehouseJobQueueBacklog',
    ]) {
      expect(byName.has(name)).toBe(true);
    }
    expect(byName.get('GatehouseHighLatencyP95')?.expr).toContain('histogram_quantile(0.95');
    for (const rule of rules) {
      expect(['critical', 'warning', 'info']).toContain(rule.labels.severity);
      expect(rule.annotations.summary).toEqual(expect.any(String));
      if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smh]$/);
    }
  });

  it('queries only exported metrics, in alert rules and in every dashboard', () => {
    const unknown: string[] = [];
    const check = (where: string, expr: string) => {
      const names = metricNamesIn(expr);
      if (names.length === 0) unknown.push(`${where}: selects no metric`);
      for (const name of names) if (!exported.has(name)) unknown.push(`${where}: ${name}`);
    };
    for (const rule of rules) check(`alerts.yml ${rule.alert}`, rule.expr);
    for (const { file, dashboard } of dashboards) {
      for (const panel of dashboard.panels) {
        for (const target of panel.targets ?? [])
          check(`${file} panel ${panel.id} ${target.refId}`, target.expr);
      }
      for (const variable of dashboard.templating.list) {
        const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
        const metric = /label_values\((\w+)/.exec(query ?? '')?.[1];
        if (metric && !exported.has(metric)) unknown.push(`${file} variable ${variable.name}: ${metric}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('has overview, per-service and business dashboards with unique ids, on the provisioned data source', () => {
    const datasources = yaml<{ datasources: Array<{ uid: string; type: string }> }>(
      'grafana/provisioning/datasources/datasources.yml',
    ).datasources;
    const prometheus = datasources.find((ds) => ds.type === 'prometheus');
    const uids = dashboards.map(({ dashboard }) => dashboard.uid);
    expect(uids.sort()).toEqual(['gatehouse-business', 'gatehouse-overview', 'gatehouse-service']);
    for (const { file, dashboard } of dashboards) {
      const ids = dashboard.panels.map((panel) => panel.id);
      expect({ file, duplicates: ids.filter((id, i) => ids.indexOf(id) !== i) }).toEqual({
        file,
        duplicates: [],
      });
      for (const panel of dashboard.panels) {
        expect(panel.datasource?.uid).toBe(prometheus?.uid);
        expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
        expect(panel.targets?.length).toBeGreaterThan(0);
      }
    }
    const service = dashboards.find(({ dashboard }) => dashboard.uid === 'gatehouse-service')?.dashboard;
    expect(service?.templating.list.map((v) => v.name)).toContain('service');
    const provider = yaml<{ providers: Array<{ type: string; options: { path: string } }> }>(
      'grafana/provisioning/dashboards/dashboards.yml',
    ).providers[0];
    expect(provider?.type).toBe('file');
    // The compose file mounts the dashboards where the provider reads them.
    expect(read('compose.yml')).toContain(`grafana/dashboards:${provider?.options.path}:ro`);
  });

  it('sends traces through the collector to Jaeger over OTLP', () => {
    const config = yaml<{
      receivers: Record<string, unknown>;
      processors: Record<string, unknown>;
      exporters: Record<string, { endpoint?: string }>;
      service: {
        pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }>;
      };
    }>('otel-collector/config.yaml');
    const traces = config.service.pipelines.traces;
    expect(traces?.receivers).toContain('otlp');
    for (const pipeline of Object.values(config.service.pipelines)) {
      for (const name of pipeline.receivers) expect(config.receivers).toHaveProperty([name]);
      for (const name of pipeline.processors) expect(config.processors).toHaveProperty([name]);
      for (const name of pipeline.exporters) expect(config.exporters).toHaveProperty([name]);
    }
    const jaeger = traces?.exporters
      .map((name) => [name, config.exporters[name]] as const)
      .find(([name]) => name.startsWith('otlp'));
    expect(jaeger?.[1]?.endpoint).toMatch(/^jaeger:4317$/);
  });

  it('ships the JSON logs to Loki', () => {
    const config = yaml<{
      sources: Record<string, { type: string }>;
      transforms: Record<string, { type: string; inputs: string[]; source?: string }>;
      sinks: Record<string, { type: string; inputs: string[]; labels?: Record<string, string> }>;
    }>('vector/vector.yaml');
    const defined = new Set([...Object.keys(config.sources), ...Object.keys(config.transforms)]);
    for (const component of [...Object.values(config.transforms), ...Object.values(config.sinks)]) {
      for (const input of component.inputs) expect(defined).toContain(input);
    }
    const loki = Object.values(config.sinks).find((sink) => sink.type === 'loki');
    expect(loki?.labels).toMatchObject({ service: expect.any(String), level: expect.any(String) });
    // Trace and request ids stay fields of the line, never labels (one stream per request would sink Loki).
    expect(Object.keys(loki?.labels ?? {})).not.toEqual(expect.arrayContaining(['traceId']));
    expect(Object.values(config.transforms).some((t) => t.source?.includes('parse_json'))).toBe(true);
  });
});
