/** Polls `condition` until it returns a truthy value or `timeoutMs` passes (then throws). */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 3000, intervalMs = 10, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
