import { ConfigError, loadConfig } from '@gatehouse/config';
import { mfaConcern } from './config';

const load = (env: Record<string, string>) => loadConfig({ mfa: mfaConcern }, env).mfa;

function issues(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError)
      return error.issues.map((issue) => `${issue.variable}: ${issue.message}`);
    throw error;
  }
  return [];
}

describe('MFA configuration', () => {
  it('defaults to the Gatehouse issuer and no SMS', () => {
    expect(load({})).toEqual({
      MFA_ISSUER: 'Gatehouse',
      SMS_PROVIDER: 'none',
      TWILIO_BASE_URL: 'https://api.twilio.com',
      SMS_OUTBOX_DIR: '.data/sms-outbox',
    });
  });

  it('reads a Twilio setup', () => {
    const sid = `AC${'a'.repeat(32)}`;
    expect(
      load({
        MFA_ISSUER: 'Acme Identity',
        SMS_PROVIDER: 'twilio',
        TWILIO_ACCOUNT_SID: sid,
        TWILIO_AUTH_TOKEN: 'token',
        TWILIO_FROM: '+15017122661',
        TWILIO_BASE_URL: 'http://127.0.0.1:9999/',
      }),
    ).toEqual({
      MFA_ISSUER: 'Acme Identity',
      SMS_PROVIDER: 'twilio',
      TWILIO_ACCOUNT_SID: sid,
      TWILIO_AUTH_TOKEN: 'token',
      TWILIO_FROM: '+15017122661',
      TWILIO_BASE_URL: 'http://127.0.0.1:9999',
      SMS_OUTBOX_DIR: '.data/sms-outbox',
    });
  });

  it('names every missing Twilio setting at once', () => {
    expect(issues({ SMS_PROVIDER: 'twilio' }).sort()).toEqual([
      'TWILIO_ACCOUNT_SID: is required when SMS_PROVIDER=twilio',
      'TWILIO_AUTH_TOKEN: is required when SMS_PROVIDER=twilio',
      'TWILIO_FROM: is required when SMS_PROVIDER=twilio',
    ]);
  });

  it('refuses malformed values without echoing them', () => {
    const found = issues({
      MFA_ISSUER: 'Acme:Evil',
      SMS_PROVIDER: 'carrier-pigeon',
      TWILIO_ACCOUNT_SID: 'SK123',
      TWILIO_FROM: '5550100',
      TWILIO_BASE_URL: 'ftp://example.com',
    });
    expect(found.map((issue) => issue.split(':')[0]).sort()).toEqual([
      'MFA_ISSUER',
      'SMS_PROVIDER',
      'TWILIO_ACCOUNT_SID',
      'TWILIO_BASE_URL',
      'TWILIO_FROM',
    ]);
    expect(found.join('\n')).not.toMatch(/Evil|pigeon|SK123|5550100/);
  });

  it('refuses the SMS outbox in production', () => {
    expect(issues({ NODE_ENV: 'production', SMS_PROVIDER: 'outbox' })).toEqual([
      'SMS_PROVIDER: outbox only writes files: use twilio (or none) when NODE_ENV=production',
    ]);
    expect(load({ NODE_ENV: 'development', SMS_PROVIDER: 'outbox' }).SMS_PROVIDER).toBe('outbox');
  });
});
