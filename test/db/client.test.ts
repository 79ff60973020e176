import { createTestDatabase, type TestDatabase } from '../support/db';

describe('database client', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  }, 60_000);
  afterAll(() => t?.drop());

  it('when the connection of a running query is terminated, then the query fails and the next query gets a working connection', async () => {
    const marker = `terminate-me-${Date.now()}`;
    const running = t.db.$queryRawUnsafe(`SELECT pg_sleep(20), '${marker}'`).then(
      () => 'finished',
      (error: unknown) => error,
    );
    const backend = `SELECT pid FROM pg_stat_activity WHERE query LIKE '%${marker}%' AND pid <> pg_backend_pid()`;
    for (let i = 0; (await t.query(backend)).length === 0; i++) {
      if (i > 200) throw new Error('the query never reached the server');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await t.query(`SELECT pg_terminate_backend(pid) FROM (${backend}) AS b`);

    expect(await running).toBeInstanceOf(Error);
    await expect(t.db.$queryRaw`SELECT 1::int AS one`).resolves.toEqual([{ one: 1 }]);
  });
});
