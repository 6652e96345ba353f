import type { JsonScalar, JsonTest } from "../columns/json-query";

/** Registers a value as a bound parameter of the query being built and answers its placeholder. @internal */
export type BindParameter = (value: unknown) => string;

/** A SQL/JSON path (`$."items"[0]."sku"`) as MySQL, MariaDB and SQLite read it: every key quoted and escaped. @internal */
export function jsonPathText(path: readonly (string | number)[]): string {
  let text = "$";
  for (const part of path) {
    text += typeof part === "number" ? `[${part}]` : `."${part.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  }
  return text;
}

/**
 * A JSON path as MySQL and MariaDB read it, each key escaped as JSON text escapes it (control characters too:
 * MariaDB compares a path's key with the stored JSON text as written). @internal
 */
export function mysqlPathText(path: readonly (string | number)[]): string {
  let text = "$";
  for (const part of path) text += typeof part === "number" ? `[${part}]` : `.${JSON.stringify(part)}`;
  return text;
}

/** A PostgreSQL text[] literal of the path's parts, for `#>` and `#>>`. @internal */
export function pgPathArray(path: readonly (string | number)[]): string {
  return `{${path.map((part) => `"${String(part).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")}}`;
}

/**
 * A LIKE pattern (`%`, `_`, backslash escapes, as PostgreSQL and MySQL read it) as a SQLite GLOB pattern, which is
 * case-sensitive like theirs (SQLite's own LIKE folds ASCII case).
 *
 * @internal
 */
export function likeToGlob(pattern: string): string {
  let glob = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\" && i + 1 < pattern.length) {
      const next = pattern[++i]!;
      glob += next === "*" || next === "?" || next === "[" ? `[${next}]` : next;
    } else if (c === "%") glob += "*";
    else if (c === "_") glob += "?";
    else if (c === "*" || c === "?" || c === "[") glob += `[${c}]`;
    else glob += c;
  }
  return glob;
}

/** The type of a scalar, for the dialects' type guards. @internal */
export function scalarKind(value: JsonScalar): "string" | "number" | "boolean" | "null" {
  return value === null ? "null" : (typeof value as "string" | "number" | "boolean");
}

/**
 * The combinators every dialect shares: any / all / not around the dialect's own leaves. `not` is true where the
 * inner test is not, a missing key (SQL NULL) included.
 *
 * @internal
 */
export function combineJson(
  test: JsonTest,
  leaf: (test: Exclude<JsonTest, { kind: "any" | "all" | "not" | "sql" }>) => string,
): string {
  switch (test.kind) {
    case "sql":
      return test.sql;
    case "any":
      return `(${test.tests.map((t) => combineJson(t, leaf)).join(" OR ")})`;
    case "all":
      return `(${test.tests.map((t) => combineJson(t, leaf)).join(" AND ")})`;
    case "not":
      return `(NOT COALESCE(${combineJson(test.test, leaf)}, FALSE))`;
    default:
      return leaf(test);
  }
}
