/**
 * `extensions.code` values only the gateway answers with, next to the platform's codes (@gatehouse/errors).
 * Stable across releases: clients switch on them (clients/error-codes.json lists every code).
 */
export const GatewayErrorCode = {
  /**
   * A subscription operation sent over HTTP (GET or POST, HTTP 400). Subscriptions are served over graphql-ws
   * only: the message names the WebSocket endpoint, `details.websocketPath` its path.
   */
  SUBSCRIPTION_OVER_HTTP: 'SUBSCRIPTION_OVER_HTTP',
} as const;

export type GatewayErrorCode = (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];
