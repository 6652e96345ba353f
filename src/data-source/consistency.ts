import { AsyncLocalStorage } from "node:async_hooks";
import type { DataSource } from "typeorm";
import type { Dialect } from "../dialects/dialect";
import { InvalidValueError } from "../errors";

/** What one async context has written on one DataSource, for read-your-writes. */
interface ContextWrites {
  /** Wrote since `position` was last read from the primary: the position must be read again before a replica read. */
  dirty: boolean;
  /** The primary's log position after this context's last known write (or a token's). */
  position: string | undefined;
  /** The read of the primary's position under way: concurrent reads of the context wait for the same one. */
  reading?: Promise<void> | undefined;
}

/** One async context: a request under `AuditContext`, or `db.withConsistency()`. */
type Context = Map<DataSource, ContextWrites>;

const contexts = new AsyncLocalStorage<Context>();

/**
 * Runs `work` as an async context of its own for read-your-writes (a request: `AuditContext.run` opens one).
 *
 * @internal
 */
export function runConsistencyContext<T>(work: () => T): T {
  return contexts.run(new Map(), work);
}

const TOKEN_PREFIX = "rw1.";

/**
 * Read-your-writes for a manager with replicas: each async context remembers that it wrote, and a read it sends to a
 * replica goes there only when that replica has applied the primary's log up to the context's last write; otherwise
 * to the primary. Contexts that wrote nothing read replicas as before. Code outside any context shares one
 * manager-wide context.
 *
 * @internal
 */
export class ReadYourWrites {
  readonly #dataSource: DataSource;
  readonly #dialect: () => Dialect;
  /** The context of code that runs outside any. */
  readonly #outside: ContextWrites = { dirty: false, position: undefined };

  constructor(dataSource: DataSource, dialect: () => Dialect) {
    this.#dataSource = dataSource;
    this.#dialect = dialect;
  }

  #writes(): ContextWrites {
    const context = contexts.getStore();
    if (context === undefined) return this.#outside;
    let writes = context.get(this.#dataSource);
    if (writes === undefined) {
      writes = { dirty: false, position: undefined };
      context.set(this.#dataSource, writes);
    }
    return writes;
  }

  /** The current context wrote (or is writing) on the primary. */
  wrote(): void {
    this.#writes().dirty = true;
  }

  /** The position a replica must have applied for the current context's reads; undefined when it wrote nothing. */
  async needed(): Promise<string | undefined> {
    const writes = this.#writes();
    if (writes.dirty) {
      // read after the write committed: the primary's position then covers it
      writes.dirty = false;
      const reading = this.#dialect()
        .execute(this.#dataSource, this.#dialect().primaryPositionQuery, [])
        .then((rows) => {
          const position = rows[0]?.["position"];
          if (typeof position === "string" && position !== "") writes.position = position;
        })
        .catch((error: unknown) => {
          writes.dirty = true; // not known yet: the next read asks again
          throw error;
        })
        .finally(() => {
          if (writes.reading === reading) writes.reading = undefined;
        });
      writes.reading = reading;
    }
    if (writes.reading) await writes.reading;
    return writes.position;
  }

  /** The current context's position as an opaque token; undefined when it wrote nothing. */
  async token(): Promise<string | undefined> {
    const position = await this.needed();
    if (position === undefined) return undefined;
    const body = JSON.stringify({ d: this.#dialect().name, db: this.#database(), p: position });
    return TOKEN_PREFIX + Buffer.from(body, "utf8").toString("base64url");
  }

  /** Runs `work` in a new context whose reads are at least as fresh as `token` says. */
  withToken<T>(token: string | null | undefined, work: () => Promise<T>): Promise<T> {
    let position: string | undefined;
    try {
      position = token === undefined || token === null || token === "" ? undefined : this.#read(token);
    } catch (error) {
      return Promise.reject(error);
    }
    const context: Context = new Map([[this.#dataSource, { dirty: false, position }]]);
    return contexts.run(context, work);
  }

  #read(token: string): string {
    const refuse = (why: string) =>
      new InvalidValueError(`DatabaseManager.withConsistency: the token ${why}`, "DatabaseManager", "token", token);
    if (typeof token !== "string" || !token.startsWith(TOKEN_PREFIX) || token.length > 4096)
      throw refuse("is not one of this library's consistency tokens");
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(token.slice(TOKEN_PREFIX.length), "base64url").toString("utf8"));
    } catch {
      throw refuse("is not one of this library's consistency tokens");
    }
    const { d, db, p } = (parsed ?? {}) as { d?: unknown; db?: unknown; p?: unknown };
    if (typeof p !== "string" || p === "" || typeof d !== "string" || typeof db !== "string")
      throw refuse("is not one of this library's consistency tokens");
    const family = (name: string) => (name === "mariadb" ? "mysql" : name);
    if (family(d) !== family(this.#dialect().name) || db !== this.#database())
      throw refuse(`is for another database (${d} ${JSON.stringify(db)})`);
    if (!this.#dialect().positionReached(p, p)) throw refuse("holds no position this database understands");
    return p;
  }

  #database(): string {
    const options = this.#dataSource.options as { database?: unknown; url?: unknown };
    if (typeof options.database === "string") return options.database;
    const url = (options as { replication?: { master?: { url?: unknown; database?: unknown } } }).replication?.master;
    const text = typeof options.url === "string" ? options.url : typeof url?.url === "string" ? url.url : undefined;
    if (text !== undefined) {
      try {
        return decodeURIComponent(new URL(text).pathname.slice(1));
      } catch {
        return "";
      }
    }
    return typeof url?.database === "string" ? url.database : "";
  }
}
