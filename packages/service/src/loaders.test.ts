import { groupedLoaderByKey, loaderByKey } from './loaders';

describe('loaderByKey', () => {
  it('batches keys into one call and returns results in key order, null when missing', async () => {
    const calls: string[][] = [];
    const loader = loaderByKey(
      async (ids: readonly string[]) => {
        calls.push([...ids]);
        // Deliberately out of order and missing "b".
        return ids
          .filter((id) => id !== 'b')
          .reverse()
          .map((id) => ({ id, name: id.toUpperCase() }));
      },
      (row) => row.id,
    );
    const results = await Promise.all(['a', 'b', 'c'].map((id) => loader.load(id)));
    expect(results).toEqual([{ id: 'a', name: 'A' }, null, { id: 'c', name: 'C' }]);
    expect(calls).toEqual([['a', 'b', 'c']]);
  });

  it('splits very large batches', async () => {
    const sizes: number[] = [];
    const loader = loaderByKey(
      async (ids: readonly number[]) => {
        sizes.push(ids.length);
        return ids.map((id) => ({ id }));
      },
      (row) => row.id,
      { maxBatchSize: 2 },
    );
    await loader.loadMany([1, 2, 3]);
    expect(sizes).toEqual([2, 1]);
  });
});

describe('groupedLoaderByKey', () => {
  it('groups rows per key and returns an empty list for keys without rows', async () => {
    const loader = groupedLoaderByKey(
      async () => [
        { userId: 'u1', role: 'admin' },
        { userId: 'u2', role: 'member' },
        { userId: 'u1', role: 'member' },
      ],
      (row) => row.userId,
    );
    const [u1, u2, u3] = await loader.loadMany(['u1', 'u2', 'u3']);
    expect(u1).toEqual([
      { userId: 'u1', role: 'admin' },
      { userId: 'u1', role: 'member' },
    ]);
    expect(u2).toEqual([{ userId: 'u2', role: 'member' }]);
    expect(u3).toEqual([]);
  });
});
