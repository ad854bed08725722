import { randomUUID } from 'node:crypto';
import { decodeKeysetCursor, encodeKeysetCursor, keysetAfter } from './keyset-cursor';

describe('keyset cursor', () => {
  it('round-trips a position', () => {
    const position = { createdAt: new Date('2040-05-06T07:08:09.123Z'), id: randomUUID() };
    expect(decodeKeysetCursor(encodeKeysetCursor(position))).toEqual(position);
  });

  it.each([
    ['not base64 JSON', 'not-base64-json'],
    ['plain text', 'bm90LWEtY3Vyc29y'],
    ['an object', Buffer.from('{"a":1}').toString('base64url')],
    [
      'three elements',
      Buffer.from(JSON.stringify(['2040-01-01T00:00:00.000Z', randomUUID(), 1])).toString('base64url'),
    ],
    [
      'an id that is not a UUID',
      Buffer.from(JSON.stringify(['2040-01-01T00:00:00.000Z', "x' OR 1=1"])).toString('base64url'),
    ],
    [
      'a date that is not ISO',
      Buffer.from(JSON.stringify(['yesterday', randomUUID()])).toString('base64url'),
    ],
    [
      'a date that does not round-trip',
      Buffer.from(JSON.stringify(['2040-01-01', randomUUID()])).toString('base64url'),
    ],
    ['the old pipe format', Buffer.from(`2040-01-01T00:00:00.000Z|${randomUUID()}`).toString('base64url')],
  ])('refuses %s', (_label, cursor) => {
    expect(decodeKeysetCursor(cursor)).toBeUndefined();
  });
});

describe('keysetAfter', () => {
  it('selects every row without a position, and the rows after it in (createdAt desc, id desc) order', () => {
    expect(keysetAfter(undefined)).toEqual({});
    expect(keysetAfter(null)).toEqual({});
    const position = { createdAt: new Date('2040-05-06T07:08:09.123Z'), id: randomUUID() };
    expect(keysetAfter(position)).toEqual({
      OR: [
        { createdAt: { lt: position.createdAt } },
        { createdAt: position.createdAt, id: { lt: position.id } },
      ],
    });
  });
});
