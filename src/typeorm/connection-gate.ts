import type { DataSource, QueryRunner } from "typeorm";
import { SqlInMemory } from "typeorm/driver/SqlInMemory";
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
  readonly #waiting: { owner: object; admit: () => void }[] = [];
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
      const entry = { owner, admit };
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
  run<T>(owner: object, work: () => Promise<T>): Promise<T> {
    if (this.#owner === owner) return work();
    const release = () => this.release(owner);
    const wait = this.acquire(owner);
    if (wait) return wait.then(work).finally(release);
    try {
      return work().finally(release);
    } catch (error) {
      release();
      throw error;
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

/** The methods every view of one shared runner has, made once per shared runner (a view is one object). */
const viewMethods = new WeakMap<Runner, Runner>();

/** A caller's own view of the shared runner: own transaction state, statements through the gate. */
function ownView(shared: Runner, gate: ConnectionGate): Runner {
  let methods = viewMethods.get(shared);
  if (methods === undefined) {
    methods = gatedMethods(shared, gate);
    viewMethods.set(shared, methods);
  }
  const view = Object.create(methods) as Runner;
  // TypeORM's own state of the runner, kept per view: its transaction, its SQL memory (a migration's or a test's
  // executeMemoryDownSql() reverts this view's statements, not every statement since the connection opened), its
  // cache of loaded tables, its data
  Object.assign(view, {
    isTransactionActive: false,
    transactionDepth: 0,
    isReleased: false,
    sqlInMemory: new SqlInMemory(),
    sqlMemoryMode: false,
    loadedTables: [],
    loadedViews: [],
    data: {},
  });
  const broadcaster = shared.broadcaster;
  if (broadcaster)
    view.broadcaster = Object.assign(Object.create(broadcaster) as object, { queryRunner: view }) as never;
  return view;
}

function gatedMethods(shared: Runner, gate: ConnectionGate): Runner {
  const { query, startTransaction, commitTransaction, rollbackTransaction, release } = shared;
  const methods = Object.create(shared) as Runner;
  methods.query = function (this: Runner, ...args: Parameters<QueryRunner["query"]>) {
    return gate.run(this, () => query.apply(this, args)) as never;
  };
  methods.startTransaction = async function (this: Runner, ...args: Parameters<QueryRunner["startTransaction"]>) {
    const outermost = this.transactionDepth === 0 && !this.isTransactionActive;
    if (outermost) {
      const wait = gate.acquire(this);
      if (wait) await wait;
    }
    try {
      await startTransaction.apply(this, args);
    } catch (error) {
      if (outermost && !this.isTransactionActive) gate.release(this);
      throw error;
    }
  };
  const ending = (end: () => Promise<void>) =>
    async function (this: Runner) {
      try {
        await end.apply(this);
      } finally {
        if (!this.isTransactionActive) gate.release(this);
      }
    };
  methods.commitTransaction = ending(commitTransaction);
  methods.rollbackTransaction = ending(rollbackTransaction);
  methods.release = async function (this: Runner) {
    try {
      // a transaction left open would keep the connection's one transaction, and the gate, forever
      if (this.isTransactionActive) await this.rollbackTransaction().catch(() => undefined);
    } finally {
      gate.release(this);
      await release.apply(this);
    }
  };
  return methods;
}
