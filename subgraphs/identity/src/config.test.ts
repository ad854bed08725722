import { ConfigError } from '@gatehouse/config';
import { testSecrets } from '@gatehouse/testing';
import { loadIdentityConfig as loadWithout } from './config';

/** The secrets config load requires (no value from the source is accepted), plus what the test sets. */
const loadIdentityConfig = (env: NodeJS.ProcessEnv) => loadWithout({ ...testSecrets(), ...env });

describe('identity configuration', () => {
  it('defaults to 5 failures in 15 minutes locking for 15 minutes, and 10 sessions per user', () => {
    expect(loadIdentityConfig({}).security).toEqual({
      LOGIN_MAX_FAILURES: 5,
      LOGIN_FAILURE_WINDOW_SECONDS: 900,
      LOGIN_LOCK_SECONDS: 900,
      SESSION_LIMIT_PER_USER: 10,
      NEW_SIGN_IN_ALERT_DAYS: 90,
    });
  });

  it('reads the lockout and session limits from the environment', () => {
    const { security } = loadIdentityConfig({
      LOGIN_MAX_FAILURES: '3',
      LOGIN_FAILURE_WINDOW_SECONDS: '600',
      LOGIN_LOCK_SECONDS: '3600',
      SESSION_LIMIT_PER_USER: '2',
      NEW_SIGN_IN_ALERT_DAYS: '0',
    });
    expect(security).toEqual({
      LOGIN_MAX_FAILURES: 3,
      LOGIN_FAILURE_WINDOW_SECONDS: 600,
      LOGIN_LOCK_SECONDS: 3600,
      SESSION_LIMIT_PER_USER: 2,
      NEW_SIGN_IN_ALERT_DAYS: 0,
    });
  });

  it('names every wrong setting at once', () => {
    const error = (() => {
      try {
        loadIdentityConfig({
          LOGIN_MAX_FAILURES: '0',
          LOGIN_LOCK_SECONDS: 'forever',
          SESSION_LIMIT_PER_USER: '2.5',
        });
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.variable).sort()).toEqual([
      'LOGIN_LOCK_SECONDS',
      'LOGIN_MAX_FAILURES',
      'SESSION_LIMIT_PER_USER',
    ]);
  });
});
