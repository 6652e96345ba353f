import type { QueryRunner } from "typeorm";
import { dataSourceOf } from "./typeorm-line";

/** A query builder as far as its connection goes. */
interface RunsOnRunner {
  readonly queryRunner?: QueryRunner;
}

/**
 * Runs `work` in the transaction of the builder's query runner, or in one of its own on a runner of its own (the
 * statement the builder stands for and what the library writes beside it, one unit), and hands it that runner.
 *
 * @internal
 */
export async function inBuilderTransaction<R>(
  builder: RunsOnRunner,
  work: (runner: QueryRunner) => Promise<R>,
): Promise<R> {
  const own = builder.queryRunner === undefined;
  const runner = builder.queryRunner ?? dataSourceOf(builder).createQueryRunner();
  const startedHere = !runner.isTransactionActive;
  try {
    if (startedHere) await runner.startTransaction();
    const result = await work(runner);
    if (startedHere) await runner.commitTransaction();
    return result;
  } catch (error) {
    if (startedHere && runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  } finally {
    if (own) await runner.release();
  }
}
