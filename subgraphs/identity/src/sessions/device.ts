import UAParser from 'ua-parser-js';

/** What a session list shows about the device a session was signed in from. */
export interface DeviceInfo {
  /** `desktop`, `mobile`, `tablet`, `smarttv`, `console`, `wearable`, `embedded`, or `unknown`. */
  deviceType: string;
  /** e.g. `iPhone`, `Mac`, `Pixel 8`, `Windows PC`; null when the user agent does not say. */
  deviceName: string | null;
  /** e.g. `iOS 17.1`, `Windows 10`; null when unknown. */
  os: string | null;
  /** e.g. `Safari 17`, `Chrome 120`; null when unknown. */
  browser: string | null;
}

/**
 * Longer user agents are cut before parsing: real ones stay well under 512 characters, and the parser's
 * regular expressions should never see attacker-sized input. The same cap applies to the stored string.
 */
export const MAX_USER_AGENT_LENGTH = 512;

/** ua-parser-js reports no device type for desktops; these operating systems mean one. */
const DESKTOP_OPERATING_SYSTEMS = new Set([
  'Windows',
  'Mac OS',
  'macOS',
  'Linux',
  'Ubuntu',
  'Debian',
  'Fedora',
  'Chrome OS',
  'Chromium OS',
  'FreeBSD',
  'OpenBSD',
  'NetBSD',
]);

const DESKTOP_NAMES: Record<string, string> = {
  Windows: 'Windows PC',
  'Mac OS': 'Mac',
  macOS: 'Mac',
  'Chrome OS': 'Chromebook',
  'Chromium OS': 'Chromebook',
};

const DEVICE_TYPES = new Set(['mobile', 'tablet', 'smarttv', 'console', 'wearable', 'embedded']);

/** Cuts a user agent to {@link MAX_USER_AGENT_LENGTH}; empty or missing becomes null. */
export function normalizeUserAgent(userAgent: string | null | undefined): string | null {
  const trimmed = userAgent?.trim();
  return trimmed ? trimmed.slice(0, MAX_USER_AGENT_LENGTH) : null;
}

function label(name: string | undefined, version: string | undefined): string | null {
  if (!name) return null;
  return version ? `${name} ${version}` : name;
}

/** Parses a user agent (ua-parser-js 1.x) into the device fields of a session. */
export function parseUserAgent(userAgent: string | null | undefined): DeviceInfo {
  const ua = normalizeUserAgent(userAgent);
  if (!ua) return { deviceType: 'unknown', deviceName: null, os: null, browser: null };
  const { browser, os, device } = new UAParser(ua).getResult();

  // Apple has frozen the macOS version in user agents at 10.15.7, so it is shown without one.
  const osName = os.name === 'Mac OS' ? 'macOS' : os.name;
  const osVersion = osName === 'macOS' ? undefined : os.version;
  const desktop = osName !== undefined && DESKTOP_OPERATING_SYSTEMS.has(osName);
  const deviceType =
    device.type && DEVICE_TYPES.has(device.type) ? device.type : desktop ? 'desktop' : 'unknown';

  let deviceName: string | null = null;
  if (device.model === 'Macintosh') deviceName = 'Mac';
  else if (device.model) deviceName = device.model;
  else if (deviceType === 'desktop' && osName) deviceName = DESKTOP_NAMES[osName] ?? `${osName} PC`;
  else if (device.vendor) deviceName = device.vendor;

  // "Mobile Safari 17" and "Safari 17" are the same browser to a person reading a session list.
  const browserName = browser.name?.replace(/^Mobile /, '');
  return {
    deviceType,
    deviceName,
    os: label(osName, osVersion),
    browser: label(browserName, browser.major),
  };
}

/** A device as far as "have we seen this before?" goes; versions are left out (browsers update monthly). */
export type DeviceFingerprintInput = Pick<DeviceInfo, 'deviceType' | 'deviceName' | 'os' | 'browser'>;

const withoutVersion = (value: string | null): string =>
  (value ?? '').replace(/\s+\d[\w.]*$/, '').toLowerCase();

/** Equal for the same kind of device, operating system and browser, across version updates. */
export function deviceFingerprint(device: DeviceFingerprintInput): string {
  return [
    device.deviceType,
    device.deviceName ?? '',
    withoutVersion(device.os),
    withoutVersion(device.browser),
  ]
    .join('|')
    .toLowerCase();
}
