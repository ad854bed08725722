// Domain types of the MFA module, shared by the service and the repository (no Prisma or GraphQL types here).

/** Kinds of enrolled second factor; mirrors the `mfa_factor_type` database enum. */
export type MfaFactorType = 'TOTP' | 'SMS' | 'EMAIL';

/** Ways to pass a sign-in challenge: an enrolled factor, or a backup code. */
export type MfaMethod = MfaFactorType | 'BACKUP_CODE';

/** Methods a code can be sent by. */
export type MfaDeliveryMethod = 'SMS' | 'EMAIL';

/** A sign-in that proved its first factor and now needs a second one. */
export interface PendingMfaChallenge {
  /** Opaque, single use; only its SHA-256 is stored. */
  mfaToken: string;
  /** What the user can answer with, in a stable order (TOTP, SMS, EMAIL, BACKUP_CODE). */
  methods: MfaMethod[];
  expiresAt: Date;
}

/** A verified factor as the account's owner sees it. */
export interface MfaFactorSummary {
  id: string;
  type: MfaFactorType;
  label: string | null;
  /** Masked phone number (`+*******4567`) or e-mail address (`a***@example.com`); null for TOTP. */
  destination: string | null;
  verifiedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface MfaStatus {
  /** Sign-in asks for a second factor: `users.mfa_enabled` and at least one verified factor. */
  enabled: boolean;
  /** Verified factors only, oldest first. */
  factors: MfaFactorSummary[];
  /** Unused backup codes. */
  backupCodesRemaining: number;
}

/** What `enrollTotp` hands the user once: the secret to type in, or the URI/QR code to scan. */
export interface TotpEnrollment {
  /** Base32 (RFC 4648, no padding), 32 characters = 160 bits. */
  secret: string;
  /** `otpauth://totp/<issuer>:<email>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30` */
  otpauthUri: string;
  /** `data:image/png;base64,...` of a QR code of `otpauthUri`. */
  qrCodeDataUrl: string;
}

/** A code that went out by SMS or e-mail. */
export interface CodeDelivery {
  /** When the code stops working. */
  expiresAt: Date;
  /** Masked phone number or e-mail address the code went to. */
  destination: string;
}

/** Confirming a factor: the backup codes are returned once, when this factor turned MFA on. */
export interface FactorConfirmation {
  /** 10 fresh codes formatted `xxxxx-xxxxx` when this was the first verified factor; null otherwise. */
  backupCodes: string[] | null;
}

/** A passed challenge: whom to sign in, and what the caller stored with the challenge. */
export interface VerifiedChallenge {
  userId: string;
  method: MfaMethod;
  context: Record<string, string | null>;
  /** Unused backup codes left when a backup code was used (the client can warn); null for other methods. */
  backupCodesRemaining: number | null;
}
