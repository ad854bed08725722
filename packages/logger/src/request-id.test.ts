import { REQUEST_ID_HEADER, requestIdFrom } from './request-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdFrom', () => {
  it('keeps a safe incoming id from Node headers or Fetch Headers', () => {
    expect(REQUEST_ID_HEADER).toBe('x-request-id');
    expect(requestIdFrom({ 'x-request-id': 'abc-123_X.y' })).toBe('abc-123_X.y');
    expect(requestIdFrom(new Headers({ 'X-Request-Id': 'from-fetch' }))).toBe('from-fetch');
    expect(requestIdFrom(new Map([['x-request-id', 'from-map']]))).toBe('from-map');
    expect(requestIdFrom({ 'x-request-id': ['first', 'second'] })).toBe('first');
  });

  it.each([undefined, '', 'has space', 'line\nbreak', '<script>', 'a'.repeat(129)])(
    'replaces the unsafe or missing id %p with a random UUID',
    (incoming) => {
      const id = requestIdFrom(incoming === undefined ? {} : { 'x-request-id': incoming });
      expect(id).toMatch(UUID);
      expect(id).not.toBe(incoming);
    },
  );

  it('generates a UUID without headers', () => {
    expect(requestIdFrom(undefined)).toMatch(UUID);
    expect(requestIdFrom(undefined)).not.toBe(requestIdFrom(undefined));
  });
});
