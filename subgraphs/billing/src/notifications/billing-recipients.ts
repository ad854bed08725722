/** Who billing mail goes to: the user's address and display name, as identity and account hold them. */
export interface BillingRecipient {
  email: string;
  name: string | null;
  /** The account was deleted (erased on request): it gets no mail, though its invoices are kept. */
  deleted: boolean;
}

/**
 * The port through which billing learns where to send a user's mail. Users and profiles belong to identity and
 * account; billing reads them only through this interface, implemented by `billing-recipient.repository.ts`
 * (a sanctioned cross-subgraph read, see docs/architecture.md).
 */
export interface BillingRecipients {
  /** Null when the user does not exist. */
  find(userId: string): Promise<BillingRecipient | null>;
}
