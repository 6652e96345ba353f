import { QueryBuilder } from "typeorm";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import { escapeRegExp } from "typeorm/util/escapeRegExp";
import { registeredDialect } from "./registry";
import { dataSourceOf } from "./typeorm-line";

/** The parts of TypeORM's QueryBuilder the property-name replacement reads. */
interface NamingBuilder {
  expressionMap: {
    aliases: readonly { hasMetadata: boolean; name: string; metadata: EntityMetadata }[];
    aliasNamePrefixingEnabled: boolean;
    disableEscaping: boolean;
  };
  escape(name: string): string;
  replacePropertyNamesForTheWholeQuery(statement: string): string;
}

/** What TypeORM works out from a query's aliases on every call, kept per set of aliases. */
interface Replacements {
  /** Per alias prefix (`alias.` or ""), the column each property path, property name or column name stands for. */
  readonly names: Record<string, Record<string, string>>;
  readonly pattern: RegExp | undefined;
  readonly prefixed: boolean;
  /** Statements already rewritten, per escaping mode: the answer is a function of the statement and these. */
  readonly done: Map<string, string>;
}

/** Statements kept per set of aliases; past this the set starts over. */
const DONE_LIMIT = 256;

const ids = new WeakMap<EntityMetadata, number>();
let nextId = 0;
const byFirstMetadata = new WeakMap<EntityMetadata, Map<string, Replacements>>();
let original: NamingBuilder["replacePropertyNamesForTheWholeQuery"] | undefined;

/**
 * TypeORM rewrites property names into column names in every statement it builds
 * (`replacePropertyNamesForTheWholeQuery`): on each call it builds a table of every alias's relations and columns and
 * a regular expression from it, then runs it over the statement — about 4 µs a statement here, a tenth of a
 * one-row SQLite `findOneBy`. On the library's DataSources the table and expression are built once per set of
 * aliases, and a statement already rewritten with them is answered from memory; the rewriting itself is TypeORM's,
 * unchanged (the same on 0.3 and 1.x). Other DataSources keep TypeORM's own.
 *
 * @internal
 */
export function installPropertyNameCache(): void {
  if (original) return;
  const proto = QueryBuilder.prototype as unknown as NamingBuilder;
  const uncached = (original = proto.replacePropertyNamesForTheWholeQuery);
  proto.replacePropertyNamesForTheWholeQuery = function (this: NamingBuilder, statement: string): string {
    if (!registeredDialect(dataSourceOf(this))) return uncached.call(this, statement);
    const replacements = replacementsOf(this);
    if (!replacements) return uncached.call(this, statement);
    const key = this.expressionMap.disableEscaping ? statement : `\u0000${statement}`;
    let rewritten = replacements.done.get(key);
    if (rewritten === undefined) {
      rewritten = rewrite(this, replacements, statement);
      if (replacements.done.size >= DONE_LIMIT) replacements.done.clear();
      replacements.done.set(key, rewritten);
    }
    return rewritten;
  };
}

/** TypeORM's own rewrite, for comparison in tests. @internal */
export function uncachedPropertyNames(builder: object, statement: string): string {
  return original!.call(builder as NamingBuilder, statement);
}

function replacementsOf(builder: NamingBuilder): Replacements | undefined {
  const { aliases, aliasNamePrefixingEnabled } = builder.expressionMap;
  let first: EntityMetadata | undefined;
  let key = aliasNamePrefixingEnabled ? "p" : "n";
  for (const alias of aliases) {
    if (!alias.hasMetadata) continue;
    first ??= alias.metadata;
    let id = ids.get(alias.metadata);
    if (id === undefined) ids.set(alias.metadata, (id = nextId++));
    key += `\u0000${alias.name}\u0000${id}`;
  }
  if (!first) return undefined;
  let cache = byFirstMetadata.get(first);
  if (!cache) byFirstMetadata.set(first, (cache = new Map()));
  let replacements = cache.get(key);
  if (!replacements) cache.set(key, (replacements = build(builder)));
  return replacements;
}

/** The table and expression of TypeORM's `replacePropertyNamesForTheWholeQuery`, built as it builds them. */
function build(builder: NamingBuilder): Replacements {
  const names: Record<string, Record<string, string>> = {};
  for (const alias of builder.expressionMap.aliases) {
    if (!alias.hasMetadata) continue;
    const prefix = builder.expressionMap.aliasNamePrefixingEnabled && alias.name ? `${alias.name}.` : "";
    const table = (names[prefix] ??= {});
    // least relevant first, each later one overwriting: relation path to its first join column, relation path plus
    // referenced column path, column name, property name, property path
    for (const relation of alias.metadata.relations) {
      if (relation.joinColumns.length > 0) table[relation.propertyPath] = relation.joinColumns[0]!.databaseName;
    }
    for (const relation of alias.metadata.relations) {
      for (const joinColumn of [...relation.joinColumns, ...relation.inverseJoinColumns]) {
        table[`${relation.propertyPath}.${joinColumn.referencedColumn!.propertyPath}`] = joinColumn.databaseName;
      }
    }
    for (const column of alias.metadata.columns) table[column.databaseName] = column.databaseName;
    for (const column of alias.metadata.columns) table[column.propertyName] = column.databaseName;
    for (const column of alias.metadata.columns) table[column.propertyPath] = column.databaseName;
  }
  const prefixes = Object.keys(names);
  const alternatives = prefixes.map((key) => escapeRegExp(key)).join("|");
  return {
    names,
    prefixed: alternatives !== "",
    pattern:
      prefixes.length === 0
        ? undefined
        : new RegExp(`([ =(]|^.{0})${alternatives ? `(${alternatives})` : ""}([^ =(),]+)(?=[ =),]|.{0}$)`, "gm"),
    done: new Map(),
  };
}

/** TypeORM's rewrite of one statement with a prepared table and expression. */
function rewrite(builder: NamingBuilder, replacements: Replacements, statement: string): string {
  const { names, pattern, prefixed } = replacements;
  if (!pattern) return statement;
  return statement.replaceAll(pattern, (...matches: string[]) => {
    const match = matches[0]!;
    const pre = matches[1]!;
    if (prefixed) {
      const prefix = matches[2]!;
      const column = names[prefix]![matches[3]!];
      if (column) return `${pre}${builder.escape(prefix.slice(0, -1))}.${builder.escape(column)}`;
    } else {
      const column = names[""]![matches[2]!];
      if (column) return `${pre}${builder.escape(column)}`;
    }
    return match;
  });
}
