import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from './config-error';

/** A zod schema over the environment, keyed by variable name (see `concerns`). */
export type Concern = z.ZodType<unknown, Record<string, string | undefined>>;

export type ConfigOf<C extends Record<string, Concern>> = { [K in keyof C]: z.output<C[K]> };

export type Environment = Readonly<Record<string, string | undefined>>;

/** Empty values are treated as unset, so `FOO=` in a .env file falls back to the default. */
function withoutEmptyValues(env: Environment): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  );
}

/**
 * Parses every concern and returns `{ [name]: parsed concern }`. All problems of all concerns are collected and
 * thrown together as one ConfigError, so a misconfigured deployment is fixed in one round trip.
 *
 * @example const config = loadConfig({ runtime: concerns.runtime, http: concerns.http('IDENTITY', 4001) });
 */
export function loadConfig<C extends Record<string, Concern>>(
  concernsByName: C,
  env: Environment = process.env,
): ConfigOf<C> {
  const input = withoutEmptyValues(env);
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  const config: Record<string, unknown> = {};

  for (const [name, concern] of Object.entries(concernsByName)) {
    const result = concern.safeParse(input);
    if (result.success) {
      config[name] = result.data;
      continue;
    }
    for (const issue of result.error.issues) {
      const variable = issue.path.length > 0 ? issue.path.map(String).join('.') : name;
      const missing =
        issue.code === 'invalid_type' && issue.path.length === 1 && input[variable] === undefined;
      const message = missing ? 'is required' : issue.message;
      const key = `${variable}\n${message}`;
      // Concerns may share a variable (e.g. NODE_ENV); report each problem once.
      if (seen.has(key)) continue;
      seen.add(key);
      issues.push({ variable, message });
    }
  }

  if (issues.length > 0) throw new ConfigError(issues);
  return config as ConfigOf<C>;
}

/** {@link loadConfig} for process entry points: prints every problem to stderr and exits with status 1. */
export function loadConfigOrExit<C extends Record<string, Concern>>(
  concernsByName: C,
  env: Environment = process.env,
): ConfigOf<C> {
  try {
    return loadConfig(concernsByName, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
