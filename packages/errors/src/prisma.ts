import { ConflictError, NotFoundError, type AppError } from './app-error';

/**
 * The shape of `Prisma.PrismaClientKnownRequestError`, matched structurally so this package does not depend on
 * the generated client (and keeps working whichever copy of @prisma/client threw it).
 */
interface PrismaKnownRequestErrorLike extends Error {
  code: string;
  clientVersion: string;
}

export function isPrismaKnownRequestError(error: unknown): error is PrismaKnownRequestErrorLike {
  if (!(error instanceof Error)) return false;
  const candidate = error as Partial<PrismaKnownRequestErrorLike>;
  return (
    typeof candidate.code === 'string' &&
    /^P\d{4}$/.test(candidate.code) &&
    typeof candidate.clientVersion === 'string'
  );
}

/**
 * Maps the Prisma errors that describe a client-caused outcome to an AppError, or returns undefined.
 * The result carries neither `meta` (column and constraint names) nor the message (which can quote SQL).
 */
export function fromPrismaError(error: unknown): AppError | undefined {
  if (!isPrismaKnownRequestError(error)) return undefined;
  switch (error.code) {
    case 'P2002': // unique constraint violation
      return new ConflictError('Already exists', { cause: error });
    case 'P2025': // record required by the operation was not found
      return new NotFoundError('Not found', { cause: error });
    default:
      return undefined;
  }
}
