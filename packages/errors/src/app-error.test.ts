import { z } from 'zod';
import {
  AppError,
  AuthenticationError,
  ForbiddenError,
  NotFoundError,
  RateLimitError,
  ValidationError,
  assertThat,
  forbidden,
  unauthenticated,
} from './app-error';
import { ErrorCode } from './error-codes';

describe('AppError hierarchy', () => {
  it('carries a code, a default message and the subclass name', () => {
    const error = new NotFoundError();
    expect(error).toBeInstanceOf(AppError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(ErrorCode.NOT_FOUND);
    expect(error.message).toBe('Not found');
    expect(error.name).toBe('NotFoundError');
  });

  it('keeps the cause for logs', () => {
    const cause = new Error('socket closed');
    expect(new AuthenticationError('Session expired', { cause }).cause).toBe(cause);
  });

  it('reports retry-after on rate limits', () => {
    expect(new RateLimitError(undefined, { retryAfterSeconds: 30 }).details).toEqual({
      retryAfterSeconds: 30,
    });
    expect(new RateLimitError().details).toBeUndefined();
  });
});

describe('ValidationError.fromZod', () => {
  it('lists field paths and messages without the input values', () => {
    const schema = z.object({
      email: z.email({ message: 'Invalid email address' }),
      profile: z.object({ age: z.number().int().min(13, { message: 'Too young' }) }),
    });
    const result = schema.safeParse({ email: 'secret-looking-value', profile: { age: 5 } });
    if (result.success) throw new Error('expected the input to be invalid');

    const error = ValidationError.fromZod(result.error);

    expect(error.code).toBe(ErrorCode.BAD_USER_INPUT);
    expect(error.details).toEqual([
      { path: 'email', message: 'Invalid email address' },
      { path: 'profile.age', message: 'Too young' },
    ]);
    expect(JSON.stringify(error.details)).not.toContain('secret-looking-value');
  });
});

describe('guards', () => {
  it('assertThat throws the factory error only when the condition is falsy', () => {
    const factory = jest.fn(() => new NotFoundError('User not found'));
    expect(() => assertThat({ id: '1' }, factory)).not.toThrow();
    expect(factory).not.toHaveBeenCalled();
    expect(() => assertThat(null, factory)).toThrow('User not found');
    expect(() => assertThat(0, new ForbiddenError())).toThrow(ForbiddenError);
  });

  it('forbidden and unauthenticated make coded errors for graphql-shield fallbackError', () => {
    expect(forbidden()).toMatchObject({ code: ErrorCode.FORBIDDEN, message: 'Forbidden' });
    expect(unauthenticated()).toMatchObject({ code: ErrorCode.UNAUTHENTICATED });
    expect(forbidden('Admins only').message).toBe('Admins only');
  });
});
