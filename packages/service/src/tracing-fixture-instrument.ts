/**
 * First import of `tracing-fixture.ts`, as `instrument.ts` is the first import of a service's `main.ts`: an
 * import's statements run before the importing module's next import is loaded, so tracing starts before the
 * modules it instruments.
 */
import { startTracing } from './tracing-sdk';

export const tracing = startTracing({ serviceName: 'tracing-fixture' });
