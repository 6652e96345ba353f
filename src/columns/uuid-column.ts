import type { ValueTransformer } from "typeorm";
import { InvalidValueError } from "../errors";
import { canonicalUuid } from "../util/uuid";

/**
 * The transformer of UUID key columns: refuses a value that is not a UUID (as PostgreSQL does, and MySQL, MariaDB
 * and SQLite would not) and writes it in lower case, so that every database stores and compares the same text. It
 * runs on writes and on lookups (`findOneBy({ id })`, the lookup `save()` makes for an entity with an id), so a bad
 * id gets the same typed error everywhere, before any SQL.
 */
export class UuidTransformer implements ValueTransformer {
  readonly #entity: string;
  readonly #property: string;

  constructor(options: { readonly entity: string; readonly property: string }) {
    this.#entity = options.entity;
    this.#property = options.property;
  }

  to(value: unknown): unknown {
    if (value === undefined || value === null) return value;
    if (typeof value === "object" || typeof value === "function") return value; // FindOperator, raw SQL function
    const canonical = typeof value === "string" ? canonicalUuid(value) : undefined;
    if (canonical === undefined) throw InvalidValueError.notUuid(this.#entity, this.#property, value);
    return canonical;
  }

  from(value: unknown): unknown {
    return value;
  }
}
