import { Redis } from 'ioredis';
import {
  assertIncrementAmount,
  ttlToMilliseconds,
  type IncrementOptions,
  type KeyValueStore,
  type SetOptions,
} from './key-value-store';

/** The part of a pino logger this package uses. */
export interface KeyValueStoreLogger {
  error(details: object, message: string): void;
}

export interface RedisKeyValueStoreOptions {
  /** redis:// or rediss:// URL. */
  redisUrl: string;
  /** Namespace for every key; keys are stored as `<prefix>:kv:<key>`. Default `gatehouse`. */
  prefix?: string;
  /** How long ping() waits before reporting Redis unreachable. Default 2000 ms. */
  pingTimeoutMs?: number;
  /** Receives connection errors; without it they go to console.error. */
  logger?: KeyValueStoreLogger;
}

/**
 * INCRBY and the first expiry in one atomic step, so a crash can never leave a counter without a TTL
 * (a lockout that never ends). PEXPIRE only runs while the key has no expiry: fixed window, never extended.
 */
const INCREMENT_SCRIPT = `
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
`;

type RedisWithIncrement = Redis & {
  gatehouseIncrement(key: string, by: number, ttlMs: string): Promise<number>;
};

/** {@link KeyValueStore} on Redis, shared by every replica. */
export class RedisKeyValueStore implements KeyValueStore {
  private readonly redis: RedisWithIncrement;
  private readonly keyPrefix: string;
  private readonly pingTimeoutMs: number;
  private closing: Promise<void> | undefined;

  constructor(options: RedisKeyValueStoreOptions) {
    this.keyPrefix = `${options.prefix ?? 'gatehouse'}:kv:`;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2000;
    const redis = new Redis(options.redisUrl, { connectionName: 'gatehouse-kv', enableAutoPipelining: true });
    redis.defineCommand('gatehouseIncrement', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
    const logger = options.logger;
    // Commands fail on their own; this only makes reconnect trouble visible (ioredis retries in the background).
    redis.on('error', (error: Error) =>
      logger
        ? logger.error({ err: error }, 'kv: redis connection error')
        : console.error('kv: redis connection error', error),
    );
    this.redis = redis as RedisWithIncrement;
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(this.k(key));
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    const k = this.k(key);
    let result: string | null;
    if (options.ttlSeconds !== undefined) {
      const ttlMs = ttlToMilliseconds(options.ttlSeconds);
      result = options.onlyIfAbsent
        ? await this.redis.set(k, value, 'PX', ttlMs, 'NX')
        : await this.redis.set(k, value, 'PX', ttlMs);
    } else {
      result = options.onlyIfAbsent ? await this.redis.set(k, value, 'NX') : await this.redis.set(k, value);
    }
    return result === 'OK';
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.del(this.k(key))) > 0;
  }

  async increment(key: string, options: IncrementOptions = {}): Promise<number> {
    const by = options.by ?? 1;
    assertIncrementAmount(by);
    const ttlMs = options.ttlSeconds === undefined ? '' : String(ttlToMilliseconds(options.ttlSeconds));
    return this.redis.gatehouseIncrement(this.k(key), by, ttlMs);
  }

  async ttlSeconds(key: string): Promise<number | null> {
    const ms = await this.redis.pttl(this.k(key));
    // -2: no such key, -1: no expiry.
    return ms < 0 ? null : Math.ceil(ms / 1000);
  }

  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`kv: redis did not answer PING within ${this.pingTimeoutMs} ms`)),
        this.pingTimeoutMs,
      );
    });
    try {
      await Promise.race([this.redis.ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.redis.quit().then(
      () => undefined,
      // QUIT fails when the connection is already down; dropping it is all that is left to do.
      () => this.redis.disconnect(),
    );
    return this.closing;
  }

  private k(key: string): string {
    return this.keyPrefix + key;
  }
}
