import type { DataSource, QueryRunner } from "typeorm";
import { DatabaseOperationError } from "../errors";

/**
 * One transaction at a time on a database with one connection (SQLite).
 *
 * TypeORM's SQLite drivers hand every caller the same query runner, so a transaction open on it takes in whatever
 * anyone else runs meanwhile: a `save()` from another request joins it and is rolled back with it, and two
 * `save()`s' own transactions interleave (TypeORM 0.3 with sqlite3). The gate gives each caller of
 * `createQueryRunner()` a view of its own over the one connection: its own transaction state, and statements that
 * wait while another caller's transaction is open. A transaction holds the gate from BEGIN to COMMIT or ROLLBACK; a
 * statement outside any transaction holds it while it runs. Code in the scope of a library session (`withSession`)
 * works in that session (see session-scope.ts), as it does through `db.getRepository()`.
 *
 * A wait longer than the connection's busy timeout fails with SQLite's own busy error, as a second connection's
 * would, instead of waiting forever (code inside TypeORM's `dataSource.transaction(cb)` that uses a repository
 * outside `cb`'s manager would otherwise wait for itself).
 *
 * @internal
 */
export class ConnectionGate {
  #owner: object | undefined;
  readonly #waiting: { owner: object; admit: () => void; refuse: (error: unknown) => void }[] = [];
  readonly #timeoutMs: number;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Whether `owner` may run a statement now without waiting. */
  admits(owner: object | undefined): boolean {
    return this.#owner === undefined || (owner !== undefined && this.#owner === owner);
  }

  /** Takes the gate for `owner`: at once (undefined) when it is free, else a promise of it. */
  acquire(owner: object): Promise<void> | undefined {
    if (this.#owner === undefined) {
      this.#owner = owner;
      return undefined;
    }
    return new Promise<void>((admit, refuse) => {
      const entry = { owner, admit, refuse };
      this.#waiting.push(entry);
      const timer = setTimeout(() => {
        const at = this.#waiting.indexOf(entry);
        if (at === -1) return;
        this.#waiting.splice(at, 1);
        refuse(busy(this.#timeoutMs));
      }, this.#timeoutMs);
      entry.admit = () => {
        clearTimeout(timer);
        admit();
      };
    });
  }

  /** Gives the gate up, to the next waiting owner. Does nothing for an owner that does not hold it. */
  release(owner: object): void {
    if (this.#owner !== owner) return;
    const next = this.#waiting.shift();
    this.#owner = next?.owner;
    next?.admit();
  }

  /** Runs `work` as `owner`: straight away when it holds the gate, else holding it while `work` runs. */
  async run<T>(owner: object, work: () => Promise<T>): Promise<T> {
    if (this.#owner === owner) return work();
    const wait = this.acquire(owner);
    if (wait) await wait;
    try {
      return await work();
    } finally {
      this.release(owner);
    }
  }
}

/** SQLite's busy error, as a second connection would get it after the busy timeout. */
function busy(timeoutMs: number): DatabaseOperationError {
  const cause = Object.assign(new Error(`SQLITE_BUSY: database is locked`), { code: "SQLITE_BUSY" });
  return new DatabaseOperationError(
    `Waited ${timeoutMs} ms for another transaction on the SQLite connection to end (SQLITE_BUSY: database is locked); ` +
      `inside a transaction, use its manager (or db.getRepository() inside withSession)`,
    { cause },
  );
}

const gates = new WeakMap<DataSource, ConnectionGate>();

/** The gate of a DataSource, where it has one (SQLite). @internal */
export function gateOf(dataSource: DataSource): ConnectionGate | undefined {
  return gates.get(dataSource);
}

type Runner = QueryRunner & {
  transactionDepth: number;
  broadcaster?: { queryRunner: unknown };
};

/**
 * Gives a single-connection DataSource its gate: from now on its driver hands each caller its own view of the
 * shared query runner. @internal
 */
export function installConnectionGate(dataSource: DataSource, timeoutMs: number): ConnectionGate {
  const existing = gates.get(dataSource);
  if (existing) return existing;
  const gate = new ConnectionGate(timeoutMs);
  gates.set(dataSource, gate);
  const driver = dataSource.driver as unknown as { createQueryRunner(mode: string): Runner };
  const create = driver.createQueryRunner.bind(driver);
  driver.createQueryRunner = (mode: string) => ownView(create(mode), gate);
  return gate;
}

/** A caller's own view of the shared runner: own transaction state, statements through the gate. */
function ownView(shared: Runner, gate: ConnectionGate): Runner {
  const view = Object.create(shared) as Runner;
  // TypeORM's own state of the runner, kept per view
  Object.assign(view, { isTransactionActive: false, transactionDepth: 0, isReleased: false });
  const broadcaster = shared.broadcaster;
  if (broadcaster)
    view.broadcaster = Object.assign(Object.create(broadcaster) as object, { queryRunner: view }) as never;
  const query = shared.query;
  view.query = (...args: Parameters<QueryRunner["query"]>) => gate.run(view, () => query.apply(view, args)) as never;
  const start = shared.startTransaction;
  view.startTransaction = async (...args: Parameters<QueryRunner["startTransaction"]>) => {
    const outermost = view.transactionDepth === 0 && !view.isTransactionActive;
    if (outermost) {
      const wait = gate.acquire(view);
      if (wait) await wait;
    }
    try {
      await start.apply(view, args);
    } catch (error) {
      if (outermost && !view.isTransactionActive) gate.release(view);
      throw error;
    }
  };
  for (const name of ["commitTransaction", "rollbackTransaction"] as const) {
    const end = shared[name];
    view[name] = async () => {
      try {
        await end.apply(view);
      } finally {
        if (!view.isTransactionActive) gate.release(view);
      }
    };
  }
  const release = shared.release;
  view.release = async () => {
    try {
      // a transaction left open would keep the connection's one transaction, and the gate, forever
      if (view.isTransactionActive) await view.rollbackTransaction().catch(() => undefined);
    } finally {
      gate.release(view);
      await release.apply(view);
    }
  };
  return view;
}
