import { ConfigError, loadConfig } from '@gatehouse/config';
import { workersConcern } from './config';

const workersFrom = (env: Record<string, string>) =>
  loadConfig({ workers: workersConcern }, env).workers.GATEWAY_WORKERS;

describe('GATEWAY_WORKERS', () => {
  it('defaults to one process (no cluster)', () => {
    expect(workersFrom({})).toBe(1);
  });

  it('takes a whole number of workers', () => {
    expect(workersFrom({ GATEWAY_WORKERS: '2' })).toBe(2);
  });

  it.each(['0', '-1', '1.5', 'two', '65'])('refuses %s, naming the variable', (value) => {
    expect(() => workersFrom({ GATEWAY_WORKERS: value })).toThrow(ConfigError);
    expect(() => workersFrom({ GATEWAY_WORKERS: value })).toThrow(/GATEWAY_WORKERS/);
  });
});
