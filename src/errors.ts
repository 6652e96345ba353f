/**
 * Every error this library throws is a {@link DatabaseError}; each kind of problem has its own subclass,
 * built through a named static factory so that the message always names the entity, the property and the
 * offending value, and says what to do about it.
 */

/** Shortens a value for an error message: long strings are cut, objects are summarised, never thrown on. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") {
    const cut = value.length > 80 ? `${value.slice(0, 77)}...` : value;
    return JSON.stringify(cut) + (value.length > 80 ? ` (${value.length} characters)` : "");
  }
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol") return value.toString();
  if (typeof value === "function") return `[function ${value.name || "anonymous"}]`;
  if (value instanceof Date) return `Date(${Number.isNaN(value.getTime()) ? "Invalid" : value.toISOString()})`;
  if (Array.isArray(value)) return `[array of ${value.length}]`;
  if (value !== null && typeof value === "object") {
    const name = Object.getPrototypeOf(value)?.constructor?.name ?? "Object";
    return `[${name}]`;
  }
  return String(value);
}

/**
 * The message of anything thrown. Duck-typed rather than `instanceof Error`: errors made in another realm (a VM
 * context, a test sandbox) are not instances of this realm's `Error`.
 */
export function errorMessage(error: unknown): string {
  if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string") {
    return (error as { message: string }).message;
  }
  return describeValue(error);
}

/** Base class of every error thrown by `@inference-core/database`. */
export class DatabaseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A value given for a SmartJSON column is not a JSON value (BigInt, function, symbol, cycle, NaN, ...). */
export class InvalidJsonValueError extends DatabaseError {
  constructor(
    message: string,
    /** Entity class name. */
    readonly entity: string,
    /** Property path on the entity, e.g. `metadata.json`. */
    readonly property: string,
    /** JSON path inside the value where the problem is, e.g. `$.items[2]`. */
    readonly jsonPath: string,
    /** The offending (sub-)value. */
    readonly value: unknown,
  ) {
    super(message);
  }

  /** @internal */
  static at(entity: string, property: string, jsonPath: string, value: unknown, reason: string): InvalidJsonValueError {
    return new InvalidJsonValueError(
      `${entity}.${property}: ${reason} at ${jsonPath} (got ${describeValue(value)}); ` +
        `SmartJSON columns take only JSON values: plain objects, arrays, strings, finite numbers, booleans and null`,
      entity,
      property,
      jsonPath,
      value,
    );
  }
}

/** A SmartJSON column holds text that is not valid JSON (written by another program). */
export class InvalidStoredJsonError extends DatabaseError {
  constructor(
    message: string,
    /** Entity class name. */
    readonly entity: string,
    /** Table of the row. */
    readonly table: string,
    /** Column holding the text. */
    readonly column: string,
    /** Primary key of the row. */
    readonly rowId: unknown,
    /** The stored text. */
    readonly rawValue: string,
  ) {
    super(message);
  }

  /** @internal */
  static inRow(
    entity: string,
    table: string,
    column: string,
    rowId: unknown,
    raw: string,
    cause: unknown,
  ): InvalidStoredJsonError {
    const error = new InvalidStoredJsonError(
      `${entity}: column ${table}.${column} of row id=${describeValue(rowId)} holds text that is not valid JSON ` +
        `(${describeValue(raw)}); fix or clear the stored value`,
      entity,
      table,
      column,
      rowId,
      raw,
    );
    if (cause !== undefined) Object.defineProperty(error, "cause", { value: cause, enumerable: false });
    return error;
  }
}

/** A string is longer than its column's declared length (counted in characters, as the databases count). */
export class ValueTooLongError extends DatabaseError {
  constructor(
    message: string,
    /** Entity class name. */
    readonly entity: string,
    /** Property path on the entity. */
    readonly property: string,
    /** The value refused. */
    readonly value: string,
    /** The column's declared length. */
    readonly maxLength: number,
    /** The value's length in characters (code points). */
    readonly actualLength: number,
  ) {
    super(message);
  }

  /** @internal */
  static forColumn(
    entity: string,
    property: string,
    value: string,
    maxLength: number,
    actualLength: number,
  ): ValueTooLongError {
    return new ValueTooLongError(
      `${entity}.${property}: ${actualLength} characters given, at most ${maxLength} allowed ` +
        `(value ${describeValue(value)}); shorten the value or widen the column`,
      entity,
      property,
      value,
      maxLength,
      actualLength,
    );
  }
}

/** A value is of the wrong kind for its column: an id that is not a UUID, a string with a NUL character, ... */
export class InvalidValueError extends DatabaseError {
  constructor(
    message: string,
    /** Entity class name. */
    readonly entity: string,
    /** Property path on the entity. */
    readonly property: string,
    /** The value refused. */
    readonly value: unknown,
  ) {
    super(message);
  }

  /** @internal */
  static notUuid(entity: string, property: string, value: unknown): InvalidValueError {
    return new InvalidValueError(
      `${entity}.${property}: ${describeValue(value)} is not a UUID (expected 8-4-4-4-12 hexadecimal digits); ` +
        `leave the id unset to have a UUIDv7 generated`,
      entity,
      property,
      value,
    );
  }

  /** @internal */
  static loneSurrogate(entity: string, property: string, value: string): InvalidValueError {
    return new InvalidValueError(
      `${entity}.${property}: the string ${describeValue(value)} holds a lone UTF-16 surrogate (half of a character ` +
        `pair), which no database stores as it is (it would read back as U+FFFD); pass well-formed text`,
      entity,
      property,
      value,
    );
  }

  /** @internal */
  static outOfRange(entity: string, property: string, value: unknown, reason: string): InvalidValueError {
    return new InvalidValueError(
      `${entity}.${property}: ${describeValue(value)} ${reason}; the database would refuse or round it`,
      entity,
      property,
      value,
    );
  }

  /** @internal */
  static nulCharacter(entity: string, property: string, value: string): InvalidValueError {
    return new InvalidValueError(
      `${entity}.${property}: the string ${describeValue(value)} contains a NUL character (\\u0000), ` +
        `which PostgreSQL cannot store; remove it`,
      entity,
      property,
      value,
    );
  }
}

/** A write would give two live (not soft-deleted) rows the same key of a `@UniqueWhileActive` constraint. */
export class UniqueConstraintError extends DatabaseError {
  constructor(
    message: string,
    /** Entity class name. */
    readonly entity: string,
    /** The key's properties. */
    readonly properties: readonly string[],
    /** The unique index. */
    readonly index: string,
  ) {
    super(message);
  }

  /** @internal */
  static forKey(entity: string, properties: readonly string[], index: string, cause: unknown): UniqueConstraintError {
    const error = new UniqueConstraintError(
      `${entity}: another live row already has this ${properties.join(" + ")} (unique among rows that are not ` +
        `soft-deleted, index ${index}); change the value, or delete the other row first`,
      entity,
      properties,
      index,
    );
    Object.defineProperty(error, "cause", { value: cause, enumerable: false, configurable: true, writable: true });
    return error;
  }

  /** The 0-based row of the input to `insertMany` that clashed, when the database said which. */
  rowIndex?: number;

  /** @internal */
  atRow(row: number): UniqueConstraintError {
    const error = new UniqueConstraintError(
      `${this.message} (row ${row} of the input)`,
      this.entity,
      this.properties,
      this.index,
    );
    Object.defineProperty(error, "cause", { value: this.cause, enumerable: false, configurable: true, writable: true });
    error.rowIndex = row;
    return error;
  }
}

/**
 * A write broke a foreign key: it refers to a row that does not exist (`reason: "missing"`), or it deletes or
 * re-keys a row that others still refer to (`reason: "referenced"`). The error names the entity written, the
 * relation's property and the entity it refers to, where the database says which; never the values (they may be
 * another user's ids). The driver's error is the `cause`.
 */
export class ForeignKeyViolationError extends DatabaseError {
  constructor(
    message: string,
    /** The entity whose write failed. */
    readonly entity: string,
    /** The relation (or foreign-key column) property, when the database says which key it was. */
    readonly property: string | undefined,
    /** The entity the key refers to (`missing`) or that refers to this one (`referenced`), when known. */
    readonly referencedEntity: string | undefined,
    /** Whether the referred row is missing, or the written row is still referred to. */
    readonly reason: "missing" | "referenced",
  ) {
    super(message);
  }

  /** @internal */
  static of(
    entity: string,
    property: string | undefined,
    other: string | undefined,
    reason: "missing" | "referenced",
    cause: unknown,
  ): ForeignKeyViolationError {
    const message =
      reason === "missing"
        ? `${entity}${property ? `.${property}` : ""}: the ${other ?? "row"} it refers to does not exist; ` +
          `refer to an existing ${other ?? "row"}, or create it first`
        : `${entity}: the row is still referred to${other ? ` by ${other} rows` : ""}` +
          `${property ? ` (${other ?? "?"}.${property})` : ""}; delete or move those rows first`;
    const error = new ForeignKeyViolationError(message, entity, property, other, reason);
    Object.defineProperty(error, "cause", { value: cause, enumerable: false, configurable: true, writable: true });
    return error;
  }
}

/**
 * Optimistic concurrency: a loaded entity with a `@VersionColumn()` was saved, soft-removed, recovered or removed
 * after its row changed (the version moved), was deleted, or was soft-deleted since it was loaded. Nothing was
 * written. Reload the entity and apply the change again (`withSession(work, { retry })` does so for its work).
 */
export class StaleEntityError extends DatabaseError {
  constructor(
    message: string,
    /** Entity class name. */
    readonly entity: string,
    /** The row's primary key. */
    readonly id: unknown,
    /** The version the entity was loaded with (the one the write expected). */
    readonly expectedVersion: number,
    /** The row's version now; null when the row no longer exists. */
    readonly actualVersion: number | null,
  ) {
    super(message);
  }

  /** @internal */
  static of(entity: string, id: unknown, expected: number, actual: number | null): StaleEntityError {
    const now = actual === null ? "the row no longer exists" : `the row is at version ${actual}`;
    return new StaleEntityError(
      `${entity} ${String(id)}: changed since it was loaded (loaded at version ${expected}, ${now}); ` +
        `nothing was written: reload it and apply the change again`,
      entity,
      id,
      expected,
      actual,
    );
  }
}

/**
 * The acting user the application handed to the audit context is not one the audit columns can hold (empty, over
 * 255 characters, a NUL): a server-side problem (the authentication layer), not the client's.
 */
export class InvalidActorError extends DatabaseError {
  /** @internal */
  static of(actor: unknown): InvalidActorError {
    return new InvalidActorError(
      `AuditContext.run: the actor ${describeValue(actor)} must be a non-empty string of at most 255 characters ` +
        `without NUL (it goes into the audit columns); check what the authentication layer hands over`,
    );
  }
}

/** The configuration given to the {@link DatabaseManager} cannot work (bad URL, unsupported driver, ...). */
export class ConfigurationError extends DatabaseError {}

/** One difference between the database and the entities that `createTables()` will not apply. */
export interface SchemaDifference {
  /** The table (its path, `schema.table` where the database has schemas). */
  readonly table: string;
  /** The column, where the difference is one column's. */
  readonly column?: string;
  /** What differs, old and new, or what applying it would do. */
  readonly change: string;
}

/**
 * `createTables()` found differences it will not apply because they drop, retype, rename or re-key something that
 * may hold data (a column removed or renamed in the entity, a column's type or length changed, an index or
 * constraint changed). Nothing was changed. A migration applies them: `npm run migration:generate` writes the full
 * change for review.
 */
export class SchemaDriftError extends DatabaseError {
  /** Each difference, by table and column. */
  readonly differences: readonly SchemaDifference[];

  /** @internal */
  constructor(message: string, differences: readonly SchemaDifference[]) {
    super(message);
    this.differences = differences;
  }

  /** @internal */
  static fromDifferences(differences: readonly SchemaDifference[]): SchemaDriftError {
    const lines = differences.map((d) => `  - ${d.table}${d.column !== undefined ? `.${d.column}` : ""}: ${d.change}`);
    return new SchemaDriftError(
      `createTables() only adds tables, columns, indexes and constraints; the database differs from the entities in ` +
        `ways it will not apply, since they could lose data, and nothing was changed:\n${lines.join("\n")}\n` +
        `Write a migration for them (npm run migration:generate produces the full change; review it, then ` +
        `npm run migration:run).`,
      differences,
    );
  }
}

/** `reset()` was refused: no `confirm: true`, or a production environment without `allowProduction`. */
export class UnsafeResetError extends DatabaseError {}

/** The manager was used before `initialize()` or after `close()`. */
export class NotInitializedError extends DatabaseError {}

/**
 * The database is not reachable yet: the manager was started with `initialize({ lazy })` while it did not answer,
 * and keeps trying to connect. Nothing was written. (NestJS: 503 through `DatabaseErrorFilter`.)
 */
export class DatabaseUnavailableError extends DatabaseError {}

/**
 * A database operation run by the library failed; the driver's error is the `cause`.
 * Errors thrown by application code inside `withSession` are rethrown as they are, not wrapped.
 */
export class DatabaseOperationError extends DatabaseError {
  /** @internal */
  static wrap(operation: string, cause: unknown): DatabaseOperationError {
    return new DatabaseOperationError(`${operation} failed: ${errorMessage(cause)}`, { cause });
  }
}

/**
 * A session can no longer run statements: its connection was lost, or the server rolled its transaction back (a
 * deadlock, a certification failure) or refuses to go on with it (PostgreSQL after a failed statement). Nothing the
 * session wrote is committed, and nothing in its scope runs anywhere else (never on the pool): every later
 * statement of the session, and the session itself, fail with this error. What ended it is the `cause`;
 * `withSession`'s `retry` runs the whole unit of work again when that was a conflict.
 */
export class SessionAbortedError extends DatabaseError {
  /** @internal */
  static after(cause: unknown): SessionAbortedError {
    return new SessionAbortedError(
      `The session's transaction ended on the server (${errorMessage(cause)}): nothing it wrote is committed and ` +
        `it runs no further statement; run the whole unit of work again (withSession's retry does so for a conflict)`,
      { cause },
    );
  }
}

/**
 * A session run with `retry` kept failing on transaction conflicts (a serialization failure or deadlock, a Galera
 * certification failure, SQLite's busy timeout) until its attempts ran out. Every attempt was rolled back; the last
 * conflict the driver reported is the `cause`.
 */
export class TransactionConflictError extends DatabaseError {
  /** How many times the session's work ran. */
  readonly attempts: number;

  /** @internal */
  constructor(attempts: number, cause: unknown) {
    super(`The transaction failed on a conflict ${attempts} time(s), giving up: ${errorMessage(cause)}`, { cause });
    this.attempts = attempts;
  }
}

/** What kind of problem a {@link ValidationIssue} is. */
export type ValidationIssueCode =
  | "invalid_type"
  | "not_nullable"
  | "too_long"
  | "invalid_uuid"
  | "invalid_date"
  | "date_without_offset"
  | "not_integer"
  | "invalid_json"
  | "unknown_key"
  | "forbidden_key"
  | "read_only"
  | "required"
  | "out_of_range"
  | "unknown_reference"
  | "too_deep";

/** One problem in input data: where (`metadata.tags`, `items[2].price`), what kind, and a sentence. */
export interface ValidationIssue {
  /** Where in the input: `metadata.tags`, `items[2].price`; empty for the input itself. */
  readonly path: string;
  /** What kind of problem. */
  readonly code: ValidationIssueCode;
  /** A sentence a person can act on. */
  readonly message: string;
}

/** Input data for an entity has problems; `issues` lists every one of them, not just the first. */
export class ValidationError extends DatabaseError {
  constructor(
    message: string,
    /** The entity class the data was for. */
    readonly entity: string,
    /** Every problem found. */
    readonly issues: readonly ValidationIssue[],
  ) {
    super(message);
  }

  /** @internal */
  static fromIssues(entity: string, issues: readonly ValidationIssue[]): ValidationError {
    const shown = issues.slice(0, 10).map((i) => `  ${i.path || "(root)"}: ${i.message}`);
    const more = issues.length > 10 ? [`  ... and ${issues.length - 10} more`] : [];
    return new ValidationError(
      `${entity}: ${issues.length} problem${issues.length === 1 ? "" : "s"} in the input:\n${[...shown, ...more].join("\n")}`,
      entity,
      Object.freeze([...issues]),
    );
  }
}
