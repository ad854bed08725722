import { auditFieldsFromViewer, type AuditViewer } from '@gatehouse/audit';
import { AppError, ErrorCode } from '@gatehouse/errors';
import type { FeatureFlagInput, FeatureFlagView, SettingsStore, SettingView } from '@gatehouse/settings';
import { SettingsErrorCode } from './error-codes';

/** A setting as the GraphQL API shows it: values as JSON text. */
export interface SettingPayload {
  key: string;
  value: string;
  defaultValue: string;
  description: string;
  category: SettingView['category'];
  version: number;
  updatedAt: Date | null;
}

/** Who makes a change: the viewer (impersonator included) and the request id, for the audit trail. */
export interface SettingsChangeAuthor {
  viewer: AuditViewer;
  requestId: string;
}

/** The admin API over the settings store: JSON text in and out, audit fields from the viewer. */
export interface SettingsAdminService {
  list(): Promise<SettingPayload[]>;
  /** @throws AppError BAD_USER_INPUT `SETTING_INVALID` for text that is not JSON, or the store's errors. */
  update(author: SettingsChangeAuthor, key: string, valueJson: string): Promise<SettingPayload>;
  flags(): Promise<FeatureFlagView[]>;
  setFlag(author: SettingsChangeAuthor, key: string, input: FeatureFlagInput): Promise<FeatureFlagView>;
  /** Whether `key` is on for `userId` (unknown and malformed keys are off). */
  evaluate(key: string, userId: string): Promise<{ key: string; enabled: boolean }>;
}

function payloadOf(view: SettingView): SettingPayload {
  return {
    key: view.key,
    value: JSON.stringify(view.value),
    defaultValue: JSON.stringify(view.defaultValue),
    description: view.description,
    category: view.category,
    version: view.version,
    updatedAt: view.updatedAt,
  };
}

/** JSON text is limited before parsing: no setting needs more, and the text comes from the network. */
const MAX_VALUE_LENGTH = 64 * 1024;

function parseJson(key: string, text: string): unknown {
  const invalid = (message: string) =>
    new AppError(ErrorCode.BAD_USER_INPUT, 'The value is not valid for this setting.', {
      details: { reason: SettingsErrorCode.SETTING_INVALID, key, issues: [{ path: '', message }] },
    });
  if (text.length > MAX_VALUE_LENGTH) throw invalid(`Use at most ${MAX_VALUE_LENGTH} characters of JSON.`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid('Not valid JSON.');
  }
}

/** Builds the service; `store` is the process's shared settings store. */
export function createSettingsAdminService(store: SettingsStore): SettingsAdminService {
  const actorOf = ({ viewer, requestId }: SettingsChangeAuthor) => ({
    ...auditFieldsFromViewer(viewer, { requestId }),
    actorUserId: viewer.userId,
  });
  return {
    async list() {
      return (await store.list()).map(payloadOf);
    },
    async update(author, key, valueJson) {
      return payloadOf(await store.setByName(key, parseJson(key, valueJson), actorOf(author)));
    },
    flags: () => store.listFlags(),
    setFlag: (author, key, input) => store.setFlag(key, input, actorOf(author)),
    async evaluate(key, userId) {
      return { key, enabled: await store.isEnabled(key, { userId }) };
    },
  };
}
