import { Exclude } from "class-transformer";
import { Column, Index } from "typeorm";
import { ConfigurationError } from "../errors";
import { markColumn } from "./column-kinds";
import type { JsonPathSpec } from "./json-query";

/** Options of {@link JsonIndex}. */
export interface JsonIndexOptions {
  /** The type of the indexed value: values of other types are not in the index. Default: `"string"`. */
  readonly type?: "string" | "number";
  /** A unique index (among the rows whose value at the path has that type). Default: false. */
  readonly unique?: boolean;
  /** The index name. Default: `ix_json_<table>_<property>_<path>`. */
  readonly name?: string;
  /** Ordinary columns (their property names) the index covers after the JSON value, for a composite index. */
  readonly with?: readonly string[];
}

/** One JSON index of an entity class, as the query hook and the dialect adaptation read it. @internal */
export interface JsonIndexSpec {
  /** The SmartJSON property (its path on the entity: `payload`, `metadata.json`). */
  readonly property: string;
  readonly path: readonly (string | number)[];
  readonly type: "string" | "number";
  /** The generated column's property and database names. */
  readonly generatedProperty: string;
  readonly generatedColumn: string;
}

const specsByClass = new WeakMap<object, JsonIndexSpec[]>();

/** The JSON indexes declared on a class and the classes it extends. @internal */
export function jsonIndexesOf(target: unknown): readonly JsonIndexSpec[] {
  const out: JsonIndexSpec[] = [];
  for (let t = target; typeof t === "function" && t !== Function.prototype; t = Object.getPrototypeOf(t)) {
    out.push(...(specsByClass.get(t) ?? []));
  }
  return out;
}

/** FNV-1a (32 bits, hex) of a path as JSON: a short, stable tag for names. */
function pathHash(parts: readonly (string | number)[]): string {
  let hash = 0x811c9dc5;
  for (const char of JSON.stringify(parts)) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

function slug(text: string): string {
  return text
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toLowerCase();
}

/**
 * An index on the value at a path inside a SmartJSON property, built the same way on every database: a stored
 * generated column holds the value when it has the index's type (NULL otherwise), and an ordinary index covers it
 * (MariaDB has no functional indexes). `JsonPath` conditions on that path and type use it; the schema diff stays
 * empty, and generated migrations carry it.
 *
 * @example
 * @Entity("orders")
 * @JsonIndex("payload", "customer.id")
 * @JsonIndex("payload", "total", { type: "number" })
 * class Order extends FullAuditModel { @SmartJsonColumn() payload!: JsonValue | null; }
 */
export function JsonIndex(property: string, path: JsonPathSpec, options: JsonIndexOptions = {}): ClassDecorator {
  return (target) => {
    const parts = typeof path === "string" ? path.split(".") : [...path];
    if (parts.length === 0 || parts.some((p) => p === "" || (typeof p === "number" && !(p >= 0))))
      throw new ConfigurationError(`@JsonIndex on ${target.name}: the path ${JSON.stringify(path)} is not usable`);
    const type = options.type ?? "string";
    // a key the slug cannot spell (a digit-only string, unicode, punctuation) gets a hash of the whole path, so that
    // ["a", 0] and ["a", "0"], or "é" and "\n", never share a column; plain paths keep their readable names
    const plain = parts.every((p) => typeof p === "number" || /^[A-Za-z_][A-Za-z0-9_]*$/.test(p));
    const key = `${slug(property)}_${slug(parts.join("_"))}${plain ? "" : `_${pathHash(parts)}`}`;
    const generatedProperty = `__json_${key}`;
    const generatedColumn = `json_${key}`.slice(0, 60);
    // a placeholder type and expression: each DataSource's dialect gives the real ones when it adapts the metadata
    Column({
      name: generatedColumn,
      type: "varchar",
      nullable: true,
      generatedType: "STORED",
      asExpression: "NULL",
      insert: false,
      update: false,
      select: false,
    })(target.prototype as object, generatedProperty);
    markColumn(target, generatedProperty, "json-index");
    Exclude()(target.prototype as object, generatedProperty);
    const name = options.name ?? `ix_json_${target.name.toLowerCase()}_${key}`.slice(0, 60);
    Index(name, [generatedProperty, ...(options.with ?? [])], { unique: options.unique === true })(target);
    const specs = specsByClass.get(target) ?? [];
    specs.push({ property, path: parts, type, generatedProperty, generatedColumn });
    specsByClass.set(target, specs);
  };
}
