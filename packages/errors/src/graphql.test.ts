import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ConflictError, NotFoundError, ValidationError } from './app-error';
import { formatGraphQLError, toGraphQLError } from './graphql';

/** What Apollo Server passes as the first argument (its `enrichError` output). */
function formattedFrom(error: GraphQLError, stacktrace = true): GraphQLFormattedError {
  const json = error.toJSON();
  return {
    ...json,
    extensions: {
      ...json.extensions,
      code: error.extensions.code ?? 'INTERNAL_SERVER_ERROR',
      ...(stacktrace ? { stacktrace: (error.stack ?? '').split('\n') } : {}),
    },
  };
}

/** How graphql-js reports an error thrown by a resolver: wrapped, with a path, the thrown value as originalError. */
function thrownByResolver(thrown: Error): GraphQLError {
  return new GraphQLError(thrown.message, { path: ['user', 'email'], originalError: thrown });
}

/** Mimics Prisma's PrismaClientKnownRequestError. */
function prismaError(code: string): Error {
  return Object.assign(
    new Error('Invalid `prisma.user.create()` invocation: Unique constraint failed on the fields: (`email`)'),
    { name: 'PrismaClientKnownRequestError', code, clientVersion: '7.10.0', meta: { target: ['email'] } },
  );
}

function createLogger() {
  return { error: jest.fn() };
}

describe('formatGraphQLError', () => {
  it('masks an unknown error, strips the stack trace and logs the original', () => {
    const thrown = new Error('connect ECONNREFUSED 10.0.0.5:5432');
    const error = thrownByResolver(thrown);
    const logger = createLogger();

    const result = formatGraphQLError(formattedFrom(error), error, { logger });

    expect(result).toEqual({
      message: 'Internal server error',
      path: ['user', 'email'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(logger.error).toHaveBeenCalledWith(expect.objectContaining({ err: thrown }), expect.any(String));
  });

  it('masks a non-Error thrown value', () => {
    const result = formatGraphQLError({ message: 'Unexpected error value: "boom"' }, 'boom');
    expect(result).toEqual({
      message: 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });

  it('masks a GraphQLError coded INTERNAL_SERVER_ERROR, whatever its message', () => {
    const error = new GraphQLError('password authentication failed for user "gatehouse"', {
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(formatGraphQLError(formattedFrom(error), error).message).toBe('Internal server error');
  });

  it('returns AppErrors with their code, message and details', () => {
    const error = thrownByResolver(
      new ValidationError('Invalid input', { details: [{ path: 'email', message: 'Invalid email' }] }),
    );

    expect(formatGraphQLError(formattedFrom(error), error)).toEqual({
      message: 'Invalid input',
      path: ['user', 'email'],
      extensions: { code: 'BAD_USER_INPUT', details: [{ path: 'email', message: 'Invalid email' }] },
    });
  });

  it('maps Prisma P2002 to CONFLICT and P2025 to NOT_FOUND without meta or SQL', () => {
    const conflict = thrownByResolver(prismaError('P2002'));
    const conflictResult = formatGraphQLError(formattedFrom(conflict), conflict);
    expect(conflictResult.extensions).toEqual({ code: 'CONFLICT' });
    expect(conflictResult.message).toBe('Already exists');
    expect(JSON.stringify(conflictResult)).not.toMatch(/prisma|Unique|target|clientVersion/i);

    const missing = thrownByResolver(prismaError('P2025'));
    expect(formatGraphQLError(formattedFrom(missing), missing)).toMatchObject({
      message: 'Not found',
      extensions: { code: 'NOT_FOUND' },
    });
  });

  it('masks other Prisma errors', () => {
    const error = thrownByResolver(prismaError('P2010'));
    const logger = createLogger();
    expect(formatGraphQLError(formattedFrom(error), error, { logger }).message).toBe('Internal server error');
    expect(logger.error).toHaveBeenCalled();
  });

  it.each([
    'GRAPHQL_PARSE_FAILED',
    'GRAPHQL_VALIDATION_FAILED',
    'BAD_USER_INPUT',
    'PERSISTED_QUERY_NOT_FOUND',
  ])('passes Apollo client error %s through without a stack trace', (code) => {
    const error = new GraphQLError('Cannot query field "nope" on type "Query".', {
      extensions: { code, exception: { stacktrace: ['at x'] } },
    });
    expect(formatGraphQLError(formattedFrom(error), error)).toEqual({
      message: 'Cannot query field "nope" on type "Query".',
      extensions: { code },
    });
  });

  it('never returns extensions.http (Apollo status/headers instructions)', () => {
    const error = new GraphQLError('Syntax Error: Expected Name, found <EOF>.', {
      extensions: { code: 'GRAPHQL_PARSE_FAILED', http: { status: 400 } },
    });
    expect(formatGraphQLError({ ...formattedFrom(error) }, error).extensions).toEqual({
      code: 'GRAPHQL_PARSE_FAILED',
    });
  });

  it('keeps Apollo BAD_USER_INPUT even when it wraps an uncoded original (variable coercion)', () => {
    const scalarError = new TypeError('Email must be a valid address');
    const error = new GraphQLError('Variable "$email" got invalid value "x"; Email must be a valid address', {
      originalError: scalarError,
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(formatGraphQLError(formattedFrom(error), error)).toMatchObject({
      message: 'Variable "$email" got invalid value "x"; Email must be a valid address',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('passes a GraphQLError thrown by a resolver with one of our codes (e.g. forwarded by the gateway)', () => {
    const error = thrownByResolver(
      new GraphQLError('Forbidden', { extensions: { code: 'FORBIDDEN', serviceName: 'identity' } }),
    );
    expect(formatGraphQLError(formattedFrom(error), error)).toEqual({
      message: 'Forbidden',
      path: ['user', 'email'],
      extensions: { code: 'FORBIDDEN', serviceName: 'identity' },
    });
  });

  it('masks a GraphQLError with an unknown code', () => {
    const error = thrownByResolver(
      new GraphQLError('relation "users" does not exist', { extensions: { code: '42P01' } }),
    );
    expect(formatGraphQLError(formattedFrom(error), error).message).toBe('Internal server error');
  });
});

describe('toGraphQLError', () => {
  it('keeps AppError codes and masks unknown errors', () => {
    expect(toGraphQLError(new ConflictError()).extensions).toEqual({ code: 'CONFLICT' });
    const masked = toGraphQLError(new Error('secret internals'));
    expect(masked.message).toBe('Internal server error');
    expect(masked.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
  });

  it('returns coded GraphQLErrors unchanged and formats back to the same payload', () => {
    const graphQLError = toGraphQLError(new NotFoundError('User not found'));
    expect(toGraphQLError(graphQLError)).toBe(graphQLError);
    expect(formatGraphQLError(formattedFrom(graphQLError), graphQLError)).toEqual({
      message: 'User not found',
      extensions: { code: 'NOT_FOUND' },
    });
  });
});
