import { Column, Entity } from "typeorm";
import {
  type DatabaseManager,
  FullAuditModel,
  InvalidValueError,
  JsonContains,
  JsonHasKey,
  JsonIndex,
  JsonPath,
  MAX_CONTAINS_ELEMENTS,
  SmartJsonColumn,
  type JsonValue,
} from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";
import { outcomeOf } from "./support/faults";

// docs/json.md ("Querying JSON") as a reference model in TypeScript: documents and queries generated over awkward keys
// and values, the expected rows computed here, every database's answer compared with them. Zero differences.

@Entity("json_reference")
class Ref extends FullAuditModel {
  @Column({ type: "varchar", length: 20 })
  name!: string;

  @SmartJsonColumn({ name: "doc" })
  doc!: JsonValue | null;
}

/** The same documents with `@JsonIndex` columns on awkward paths: lookups must give the same rows. */
@Entity("json_reference_indexed")
@JsonIndex("doc", "name")
@JsonIndex("doc", ["list", 0])
@JsonIndex("doc", ["list", 1], { type: "number" })
@JsonIndex("doc", ["a", 0])
@JsonIndex("doc", ["a", "0"])
@JsonIndex("doc", ["\n"])
@JsonIndex("doc", ["a.b"])
@JsonIndex("doc", ["é"])
@JsonIndex("doc", ["\u0001"])
class RefIndexed extends FullAuditModel {
  @Column({ type: "varchar", length: 20 })
  name!: string;

  @SmartJsonColumn({ name: "doc" })
  doc!: JsonValue | null;
}

type Path = readonly (string | number)[];
type Scalar = string | number | boolean | null;

// ---- the meaning, in TypeScript ----

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** The value at `path`: a number steps into an array, a string into an object, nothing else. */
function at(doc: unknown, path: Path): { found: boolean; value?: unknown } {
  let node: unknown = doc;
  for (const step of path) {
    if (typeof step === "number") {
      if (!Array.isArray(node) || step < 0 || step >= node.length) return { found: false };
      node = node[step] as unknown;
    } else {
      if (!isObject(node) || !hasOwn(node, step)) return { found: false };
      node = node[step];
    }
  }
  return { found: true, value: node };
}

function sameScalar(a: unknown, b: unknown): boolean {
  if (b === null) return a === null;
  return typeof a === typeof b && a === b;
}

/** PostgreSQL's `@>`: objects by key, arrays by some element, a scalar only itself (below the top level). */
function contains(doc: unknown, candidate: unknown, top = true): boolean {
  if (isObject(candidate))
    return (
      isObject(doc) && Object.keys(candidate).every((k) => hasOwn(doc, k) && contains(doc[k], candidate[k], false))
    );
  if (Array.isArray(candidate))
    return (
      Array.isArray(doc) &&
      candidate.every((c: unknown) =>
        doc.some((d: unknown) => (c !== null && typeof c === "object" ? contains(d, c, false) : sameScalar(d, c))),
      )
    );
  if (top && Array.isArray(doc)) return doc.some((d: unknown) => sameScalar(d, candidate));
  return sameScalar(doc, candidate);
}

// ---- the data ----

const KEYS = [
  "",
  "a",
  ".",
  "a.b",
  '"',
  "\\",
  "$",
  "*",
  "[0]",
  "[",
  "]",
  "0",
  "1",
  "-1",
  "--",
  "-a",
  "\n",
  "\t",
  "\u0001",
  " ",
  "a ",
  " a",
  "é",
  "e\u0301",
  "日本",
  "😀",
  "1e3",
  "true",
  "null",
  "'",
  "%",
  "_",
  "?",
  ":name",
  "$1",
];
const VALUES: Scalar[] = [
  "abc",
  "abc   ",
  "ABC",
  "",
  " ",
  "1",
  "true",
  "null",
  "é",
  "e\u0301",
  "x'y",
  'x"y',
  "x\\y",
  "line\nbreak",
  1,
  1.5,
  0,
  -1,
  10,
  true,
  false,
  null,
];

function documents(): Record<string, JsonValue | null> {
  const docs: Record<string, JsonValue | null> = {};
  KEYS.forEach((key, i) => {
    docs[`k${i}`] = { [key]: VALUES[i % VALUES.length]!, other: key };
    docs[`n${i}`] = { outer: { [key]: [VALUES[(i + 3) % VALUES.length]!, key] } };
  });
  VALUES.forEach((value, i) => {
    docs[`v${i}`] = { name: value, list: [value, i] };
  });
  Object.assign(docs, {
    arr0: { a: ["x", "y"] },
    obj0: { a: { "0": "x" } },
    scalarA: { a: "x" },
    objNeg: { a: { "-1": "z" } },
    arrZ: { a: ["x", "z"] },
    topArray: [0, "x", { "0": 1 }],
    topObj0: { "0": 1 },
    nested: [1, 2, [1, 3]],
    in12: { a: [1, 2] },
    a1: { a: 1 },
    axy: { a: ["x", "y"] },
    ax: { a: "x" },
    deep: { a: [{ b: [{ c: "d" }] }], e: { f: [[1, 2], [3]] } },
    empties: { a: [], b: {}, c: "" },
    scalarDoc: "x",
    numberDoc: 1,
    nullDoc: null,
    trailing: { name: "abc   " },
  } satisfies Record<string, JsonValue | null>);
  return docs;
}

interface Query {
  readonly label: string;
  readonly condition: ReturnType<typeof JsonPath>;
  readonly expected: (doc: JsonValue | null) => boolean;
}

function queries(docs: Record<string, JsonValue | null>): Query[] {
  const list: Query[] = [];
  const path = (p: Path, value: Scalar) =>
    list.push({
      label: `JsonPath(${JSON.stringify(p)}, ${JSON.stringify(value)})`,
      condition: JsonPath(p as (string | number)[], value),
      expected: (d) => {
        const found = at(d, p);
        return found.found && sameScalar(found.value, value);
      },
    });
  const hasKey = (p: Path) =>
    list.push({
      label: `JsonHasKey(${JSON.stringify(p)})`,
      condition: JsonHasKey(p as (string | number)[]),
      expected: (d) => at(d, p).found,
    });
  const containing = (candidate: JsonValue) =>
    list.push({
      label: `JsonContains(${JSON.stringify(candidate)})`,
      condition: JsonContains(candidate),
      expected: (d) => contains(d, candidate),
    });
  KEYS.forEach((key, i) => {
    path([key], VALUES[i % VALUES.length]!);
    path(["outer", key, 0], VALUES[(i + 3) % VALUES.length]!);
    path(["outer", key, 1], key);
    hasKey([key]);
    hasKey(["outer", key, 1]);
    containing({ [key]: VALUES[i % VALUES.length]! });
    containing({ outer: { [key]: [key] } });
  });
  VALUES.forEach((value) => {
    path(["name"], value);
    path(["list", 0], value);
    containing({ list: [value] });
    containing({ name: value });
  });
  for (const p of [
    ["a", 0],
    ["a", "0"],
    ["a", "-1"],
    ["a", 1],
  ] as Path[])
    for (const v of ["x", "y", "z"]) path(p, v);
  for (const p of [[0], ["0"], [1], ["a"], ["a", 0], ["a", "0"], [2, "0"], ["e", "f", 0, 1]] as Path[]) hasKey(p);
  for (const c of [
    { a: 1 },
    [1, 3],
    [[1, 3]],
    { a: "x" },
    { a: ["x"] },
    "x",
    1,
    [1],
    [0, "x"],
    [{ "0": 1 }],
    { a: [{ b: [{}] }] },
    { e: { f: [[3]] } },
    { e: { f: [3] } },
    { a: [] },
    { b: {} },
    {},
    [],
    { name: "abc" },
    null,
  ] as JsonValue[])
    containing(c);
  // every document contains itself
  for (const doc of Object.values(docs)) if (doc !== null) containing(doc);
  return list;
}

describe.each(DIALECTS)("%s: JSON filters against the reference model", (dialect: TestDialect) => {
  let db: DatabaseManager;
  const docs = documents();
  const names = Object.keys(docs);

  beforeAll(async () => {
    db = await initTest(dialect, [Ref, RefIndexed]);
    for (const target of [Ref, RefIndexed])
      await db.insertMany(
        target,
        names.map((name) => ({ name, doc: docs[name]! })),
      );
  });
  afterAll(() => destroyTest(db));

  it("stores every document as written", async () => {
    const rows = await db.getRepository(Ref).find();
    expect(Object.fromEntries(rows.map((r) => [r.name, r.doc]))).toEqual(docs);
  });

  it.each([
    ["", Ref],
    [" (with @JsonIndex columns)", RefIndexed],
  ] as const)("answers every query with exactly the rows docs/json.md's meaning gives%s", async (_, target) => {
    const all = queries(docs);
    expect(all.length).toBeGreaterThan(450);
    const differences: string[] = [];
    for (const query of all) {
      const rows = await db.getRepository<Ref>(target).findBy({ doc: query.condition });
      const got = rows.map((r) => r.name).sort();
      // a null document is stored as SQL NULL: there is no document, and no filter matches it
      const want = names.filter((n) => docs[n] !== null && query.expected(docs[n]!)).sort();
      if (JSON.stringify(got) !== JSON.stringify(want))
        differences.push(`${query.label}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
    expect(differences).toEqual([]);
  });

  it(`JsonContains takes up to ${MAX_CONTAINS_ELEMENTS} values, and refuses more before any SQL`, async () => {
    const repo = db.getRepository(Ref);
    const fits = Array.from({ length: MAX_CONTAINS_ELEMENTS }, (_, i) => i);
    expect(await repo.findBy({ doc: JsonContains(fits) })).toEqual([]);
    for (const size of [1_000, 10_000]) {
      const error = await outcomeOf(() =>
        repo.findBy({ doc: JsonContains(Array.from({ length: size }, (_, i) => i)) }),
      );
      expect(error).toBeInstanceOf(InvalidValueError);
      expect((error as Error).message).toContain(`at most ${MAX_CONTAINS_ELEMENTS}`);
    }
    expect(await raw(db, "SELECT COUNT(*) AS n FROM json_reference")).toHaveLength(1);
  });
});
