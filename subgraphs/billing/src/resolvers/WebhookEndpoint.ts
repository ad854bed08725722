import type { WebhookEndpointResolvers } from '../generated/graphql';

export const WebhookEndpoint: WebhookEndpointResolvers = {
  events: (endpoint) => endpoint.events,
};
