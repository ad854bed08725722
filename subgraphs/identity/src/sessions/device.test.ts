import { MAX_USER_AGENT_LENGTH, deviceFingerprint, normalizeUserAgent, parseUserAgent } from './device';

const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';
const MAC_SAFARI =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15';
const WINDOWS_CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const ANDROID_PIXEL =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36';
const IPAD =
  'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1';
const LINUX_FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';

describe('parseUserAgent', () => {
  it.each([
    [IPHONE, { deviceType: 'mobile', deviceName: 'iPhone', os: 'iOS 17.1', browser: 'Safari 17' }],
    [MAC_SAFARI, { deviceType: 'desktop', deviceName: 'Mac', os: 'macOS', browser: 'Safari 17' }],
    [
      WINDOWS_CHROME,
      { deviceType: 'desktop', deviceName: 'Windows PC', os: 'Windows 10', browser: 'Chrome 120' },
    ],
    [ANDROID_PIXEL, { deviceType: 'mobile', deviceName: 'Pixel 8', os: 'Android 14', browser: 'Chrome 120' }],
    [IPAD, { deviceType: 'tablet', deviceName: 'iPad', os: 'iOS 16.6', browser: 'Safari 16' }],
    [LINUX_FIREFOX, { deviceType: 'desktop', deviceName: 'Linux PC', os: 'Linux', browser: 'Firefox 121' }],
  ])('parses %s', (ua, expected) => {
    expect(parseUserAgent(ua)).toEqual(expected);
  });

  it('reports an unknown device for non-browser clients and empty input', () => {
    expect(parseUserAgent('curl/8.4.0')).toEqual({
      deviceType: 'unknown',
      deviceName: null,
      os: null,
      browser: null,
    });
    expect(parseUserAgent('')).toEqual({ deviceType: 'unknown', deviceName: null, os: null, browser: null });
    expect(parseUserAgent(undefined).deviceType).toBe('unknown');
  });

  it('caps the input it parses and stores', () => {
    const huge = `${IPHONE}${' x'.repeat(50_000)}`;
    expect(normalizeUserAgent(huge)).toHaveLength(MAX_USER_AGENT_LENGTH);
    expect(parseUserAgent(huge).deviceName).toBe('iPhone');
    expect(normalizeUserAgent('   ')).toBeNull();
  });
});

describe('deviceFingerprint', () => {
  const CHROME_121 = WINDOWS_CHROME.replace('Chrome/120.0.0.0', 'Chrome/121.0.0.0');

  it('is the same across browser and operating system updates', () => {
    expect(deviceFingerprint(parseUserAgent(CHROME_121))).toBe(
      deviceFingerprint(parseUserAgent(WINDOWS_CHROME)),
    );
    const ios18 = IPHONE.replace('iPhone OS 17_1', 'iPhone OS 18_0');
    expect(deviceFingerprint(parseUserAgent(ios18))).toBe(deviceFingerprint(parseUserAgent(IPHONE)));
  });

  it('differs between devices, operating systems and browsers', () => {
    const prints = [IPHONE, MAC_SAFARI, WINDOWS_CHROME, ANDROID_PIXEL, IPAD, LINUX_FIREFOX, ''].map((ua) =>
      deviceFingerprint(parseUserAgent(ua)),
    );
    expect(new Set(prints).size).toBe(prints.length);
  });
});
