import { ModelSerializer, ValidationError, type ValidationIssue } from "../src";
import { Customer, Invoice } from "./support/shop-entities";

// Reading untrusted input touches no database: these run once. The round trip through each database is in
// serializer.test.ts.
function issuesOf(run: () => unknown): ValidationIssue[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
  throw new Error("expected a ValidationError");
}

const ID = "01936f8e-7b1a-7c3d-8e4f-5a6b7c8d9e0f";

describe("ModelSerializer.fromDict with untrusted input", () => {
  it("builds an entity: ISO strings with offsets become Dates, ids are lower-cased, embedded objects are built", () => {
    const customer = ModelSerializer.fromDict(
      Customer,
      {
        id: ID.toUpperCase(),
        email: "a@b.c",
        passwordHash: "h",
        loyaltyPoints: 3,
        isVip: false,
        createdAt: "2024-05-06T07:08:09.123+02:00",
        deletedAt: null,
        audit: { createdBy: "u1" },
        metadata: { json: { deep: [{ x: "1" }] }, tags: "a" },
      },
      { protectedKeys: "accept", hiddenKeys: ["passwordHash"] },
    );
    expect(customer).toBeInstanceOf(Customer);
    expect(customer.id).toBe(ID);
    expect(customer.createdAt.toISOString()).toBe("2024-05-06T05:08:09.123Z");
    expect(customer.deletedAt).toBeNull();
    expect(customer.audit).toEqual({ createdBy: "u1" });
    expect(customer.metadata.json).toStrictEqual({ deep: [{ x: "1" }] });
  });

  it("reports every problem at once, with paths and codes", () => {
    const issues = issuesOf(() =>
      ModelSerializer.fromDict(
        Customer,
        {
          id: "not-a-uuid",
          email: 42,
          loyaltyPoints: "12",
          isVip: "true",
          createdAt: "2024-05-06T07:08:09",
          updatedAt: "yesterday",
          audit: { createdBy: "x".repeat(256) },
          metadata: { json: { n: NaN }, tags: ["a"] },
          invoices: [{ number: 7 }],
          surprise: 1,
        },
        { protectedKeys: "accept" },
      ),
    );
    expect(issues.map((i) => [i.path, i.code])).toEqual([
      ["id", "invalid_uuid"],
      ["email", "invalid_type"],
      ["loyaltyPoints", "invalid_type"],
      ["isVip", "invalid_type"],
      ["createdAt", "date_without_offset"],
      ["updatedAt", "invalid_date"],
      ["audit.createdBy", "too_long"],
      ["metadata.json", "invalid_json"],
      ["metadata.tags", "invalid_type"],
      ["invoices[0].number", "invalid_type"],
      ["surprise", "unknown_key"],
    ]);
    expect(issues.every((i) => i.message.length > 0)).toBe(true);
  });

  it("names the entity and lists the issues in the error message", () => {
    try {
      ModelSerializer.fromDict(Customer, { email: "a@b.c", loyaltyPoints: 1.5, isVip: null });
      throw new Error("expected a ValidationError");
    } catch (error) {
      expect((error as ValidationError).entity).toBe("Customer");
      expect((error as Error).message).toBe(
        "Customer: 2 problems in the input:\n  loyaltyPoints: 1.5 is not a (safe) integer\n  isVip: Customer.isVip cannot be null",
      );
    }
  });

  it("drops unknown keys when asked to", () => {
    const customer = ModelSerializer.fromDict(
      Customer,
      { email: "a@b.c", extra: 1, nested: { x: 1 } },
      { unknownKeys: "drop" },
    );
    expect(customer.email).toBe("a@b.c");
    expect(customer).not.toHaveProperty("extra");
  });

  it("never lets __proto__, constructor or prototype reach an object", () => {
    const hostile = JSON.parse(
      '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "prototype": 1,' +
        ' "metadata": {"__proto__": {"polluted": true}, "json": {"__proto__": {"polluted": true}, "a": 1}},' +
        ' "audit": {"constructor": {"polluted": true}}}',
    ) as unknown;
    const hostileWithRequired = { ...(hostile as object), email: "a@b.c" };
    const issues = issuesOf(() => ModelSerializer.fromDict(Customer, hostile, { protectedKeys: "accept" }));
    expect(issues.filter((i) => i.code !== "required").map((i) => [i.path, i.code])).toEqual([
      ["__proto__", "forbidden_key"],
      ["constructor", "forbidden_key"],
      ["prototype", "forbidden_key"],
      ["metadata.__proto__", "forbidden_key"],
      ["metadata.json.__proto__", "forbidden_key"],
      ["audit.constructor", "forbidden_key"],
    ]);
    const dropped = ModelSerializer.fromDict(Customer, hostileWithRequired, {
      unknownKeys: "drop",
      protectedKeys: "accept",
    });
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect(Object.getPrototypeOf(dropped)).toBe(Customer.prototype);
    expect(Object.getPrototypeOf(dropped.metadata.json)).toBe(Object.prototype);
    expect((dropped.metadata.json as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect(dropped.metadata.json).toStrictEqual({ a: 1 });
    expect(ModelSerializer.toDict(dropped)["metadata"]).toStrictEqual({ json: { a: 1 } });
  });

  it("wrong types in every field are each reported", () => {
    const wrong = {
      id: 1,
      email: {},
      internalNote: 5,
      loyaltyPoints: true,
      isVip: 0,
      createdAt: 0,
      updatedAt: {},
      deletedAt: [],
      isDeleted: "no",
      audit: "x",
      metadata: 3,
      invoices: {},
    };
    const issues = issuesOf(() => ModelSerializer.fromDict(Customer, wrong, { protectedKeys: "accept" }));
    expect(issues.map((i) => i.path)).toEqual(Object.keys(wrong));
    expect(new Set(issues.map((i) => i.code))).toEqual(new Set(["invalid_type"]));
  });

  it("10,000 unknown keys are all reported, and dropped quickly when asked", () => {
    const data: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) data[`k${i}`] = i;
    const issues = issuesOf(() => ModelSerializer.fromDict(Customer, data)).filter((i) => i.code !== "required");
    expect(issues).toHaveLength(10_000);
    expect(issues[9_999]).toEqual({ path: "k9999", code: "unknown_key", message: 'Customer has no property "k9999"' });
    expect(ModelSerializer.fromDict(Customer, { ...data, email: "a@b.c" }, { unknownKeys: "drop" })).toBeInstanceOf(
      Customer,
    );
  });

  it("deeply nested SmartJSON is refused without overflowing the stack", () => {
    const deep = JSON.parse("[".repeat(5000) + "]".repeat(5000)) as unknown;
    const issues = issuesOf(() => ModelSerializer.fromDict(Customer, { email: "a@b.c", metadata: { json: deep } }));
    expect(issues.map((i) => [i.path, i.code])).toEqual([["metadata.json", "invalid_json"]]);
    expect(issues[0]!.message).toContain("nesting deeper than 31 levels");
  });

  it("strings where numbers belong are refused, not coerced", () => {
    const issues = issuesOf(() =>
      ModelSerializer.fromDict(Invoice, { number: "INV", lines: [{ price: "10", quantity: "2.5", label: "x" }] }),
    ).filter((i) => i.code !== "required");
    expect(issues.map((i) => [i.path, i.code])).toEqual([
      ["lines[0].price", "invalid_type"],
      ["lines[0].quantity", "invalid_type"],
    ]);
  });

  it("input that is not an object is one issue at the root", () => {
    for (const bad of [null, 1, "x", [], true]) {
      expect(issuesOf(() => ModelSerializer.fromDict(Customer, bad)).map((i) => [i.path, i.code])).toEqual([
        ["", "invalid_type"],
      ]);
    }
  });
});

describe("updateFromDict", () => {
  const make = () =>
    ModelSerializer.fromDict(
      Customer,
      {
        id: ID,
        email: "old@x.y",
        loyaltyPoints: 1,
        createdAt: "2024-01-01T00:00:00.000Z",
        updatedAt: "2024-01-02T00:00:00.000Z",
        deletedAt: null,
        isDeleted: false,
        audit: { createdBy: "a", updatedBy: "b" },
        metadata: { json: null, tags: "t" },
        passwordHash: "h",
      },
      { protectedKeys: "accept", hiddenKeys: ["passwordHash"] },
    );

  it("applies allowed changes and merges into embedded objects", () => {
    const customer = make();
    customer.updateFromDict({ email: "new@x.y", metadata: { tags: "u" } });
    expect([customer.email, customer.metadata.tags, customer.metadata.json]).toEqual(["new@x.y", "u", null]);
  });

  it.each([
    ["id", "01936f8e-7b1a-7c3d-8e4f-5a6b7c8d9e10"],
    ["createdAt", "2025-01-01T00:00:00.000Z"],
    ["updatedAt", "2025-01-01T00:00:00.000Z"],
    ["deletedAt", "2025-01-01T00:00:00.000Z"],
    ["isDeleted", true],
    ["audit", { createdBy: "mallory" }],
  ])("refuses a change of %s as an issue, and changes nothing", (key, value) => {
    const customer = make();
    const before = customer.toDict({ groups: ["admin"] });
    const issues = issuesOf(() => customer.updateFromDict({ email: "new@x.y", [key]: value }));
    expect(issues).toEqual([
      { path: key, code: "read_only", message: `Customer.${key} is managed by the library and cannot be changed` },
    ]);
    expect(customer.toDict({ groups: ["admin"] })).toStrictEqual(before);
  });

  it("ignores protected keys silently when asked to", () => {
    const customer = make();
    customer.updateFromDict(
      { id: "x", createdAt: "nonsense", audit: { createdBy: "m" }, email: "new@x.y" },
      { protectedKeys: "ignore" },
    );
    expect([customer.id, customer.audit.createdBy, customer.email]).toEqual([ID, "a", "new@x.y"]);
  });

  it("a failed update leaves embedded objects untouched", () => {
    const customer = make();
    issuesOf(() => customer.updateFromDict({ metadata: { tags: "changed", json: { bad: Infinity } } }));
    expect(customer.metadata.tags).toBe("t");
  });
});

describe("ISO 8601 instants in input", () => {
  it("agree with Date.parse on 2,000 random instants in every offset form", () => {
    const { parseIsoInstant } = jest.requireActual<typeof import("../src/util/iso-date")>("../src/util/iso-date");
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let i = 0; i < 2000; i++) {
      const time = Math.floor(random() * 8e12) - 2e12;
      const iso = new Date(time).toISOString();
      const minutes = Math.floor(random() * 14 * 60) * (random() < 0.5 ? -1 : 1);
      const local = new Date(time + minutes * 60_000).toISOString().slice(0, 23);
      const sign = minutes < 0 ? "-" : "+";
      const hh = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, "0");
      const mm = String(Math.abs(minutes) % 60).padStart(2, "0");
      for (const text of [iso, `${local}${sign}${hh}:${mm}`, `${local}${sign}${hh}${mm}`]) {
        expect([text, parseIsoInstant(text)]).toEqual([text, Date.parse(text)]);
      }
    }
  });

  it.each([
    "2023-02-29T00:00:00Z",
    "2024-04-31T10:00:00Z",
    "2024-05-06T24:00:00Z",
    "2024-05-06T07:60:00Z",
    "2024-13-01T00:00:00Z",
    "2024-05-06T07:08:09+25:00",
  ])("refuses the impossible %s instead of rolling it over", (text) => {
    expect(
      issuesOf(() => ModelSerializer.fromDict(Invoice, { number: "INV", customer: { id: ID }, issuedAt: text })).map(
        (i) => [i.path, i.code],
      ),
    ).toEqual([["issuedAt", "invalid_date"]]);
  });
});

describe("fromDict on create: required columns and protected keys", () => {
  it("reports every required column that is missing, with the other issues", () => {
    const issues = issuesOf(() => ModelSerializer.fromDict(Customer, { loyaltyPoints: "x" }));
    expect(issues).toEqual([
      { path: "email", code: "required", message: "Customer.email is required" },
      { path: "loyaltyPoints", code: "invalid_type", message: 'expected a number, got the string "x"' },
    ]);
  });

  it("an undefined value counts as missing; columns with defaults, nullable and library columns are not required", () => {
    const issues = issuesOf(() => ModelSerializer.fromDict(Customer, { email: undefined }));
    expect(issues.map((i) => [i.path, i.code])).toEqual([["email", "required"]]);
  });

  it.each([
    ["id", ID],
    ["createdAt", "2000-01-01T00:00:00.000Z"],
    ["updatedAt", "2000-01-01T00:00:00.000Z"],
    ["deletedAt", "2000-01-01T00:00:00.000Z"],
    ["isDeleted", true],
    ["audit", { createdBy: "admin" }],
  ])("refuses %s from a client by default, as a read_only issue", (key, value) => {
    const issues = issuesOf(() => ModelSerializer.fromDict(Customer, { email: "a@b.c", [key]: value }));
    expect(issues).toEqual([
      { path: key, code: "read_only", message: `Customer.${key} is managed by the library and cannot be changed` },
    ]);
  });

  it('protectedKeys: "ignore" leaves them out silently', () => {
    const customer = ModelSerializer.fromDict(
      Customer,
      { email: "a@b.c", id: ID, deletedAt: "2000-01-01T00:00:00.000Z", audit: { createdBy: "x" } },
      { protectedKeys: "ignore" },
    );
    expect(customer.id).toBeUndefined();
    expect(customer.deletedAt).toBeUndefined();
    expect(customer.audit.createdBy).toBeUndefined();
  });

  it('protectedKeys: "accept" takes them, for trusted input', () => {
    const customer = ModelSerializer.fromDict(
      Customer,
      { email: "a@b.c", id: ID, createdAt: "2000-01-01T00:00:00.000Z" },
      { protectedKeys: "accept" },
    );
    expect([customer.id, customer.createdAt.toISOString()]).toEqual([ID, "2000-01-01T00:00:00.000Z"]);
  });

  it("a many-to-one that may not be null is required", () => {
    const issues = issuesOf(() => ModelSerializer.fromDict(Invoice, { number: "INV-1" }));
    expect(issues).toEqual([{ path: "customer", code: "required", message: "Invoice.customer is required" }]);
  });

  it("a relation reference by id is taken, and its columns are not required", () => {
    const invoice = ModelSerializer.fromDict(Invoice, { number: "INV-1", customer: { id: ID } });
    expect(invoice.customer).toBeInstanceOf(Customer);
    expect(invoice.customer!.id).toBe(ID);
  });
});

// fromDict first tries a reader compiled per class and options, which takes valid input only and gives up at the
// first value it does not take; the general path then reads a fresh instance and makes every issue
describe("fromDict's compiled reader and the general path agree", () => {
  const codes = (issues: ValidationIssue[]) => issues.map((issue) => `${issue.path}:${issue.code}`);

  it("a relation's issue met before a value the compiled reader gives up on is reported once", () => {
    const issues = issuesOf(() =>
      ModelSerializer.fromDict(Invoice, { number: "INV-1", customer: { id: "nope" }, issuedAt: "2024-01-01T00:00:00" }),
    );
    expect(codes(issues)).toEqual(["customer.id:invalid_uuid", "issuedAt:date_without_offset"]);
  });

  it("a relation's issue with every other value valid is reported once", () => {
    const issues = issuesOf(() =>
      ModelSerializer.fromDict(Invoice, {
        number: "INV-1",
        customer: { id: "nope" },
        issuedAt: "2024-01-01T00:00:00Z",
      }),
    );
    expect(codes(issues)).toEqual(["customer.id:invalid_uuid"]);
  });

  it("the same input in every key order gives the same issues", () => {
    const entries: [string, unknown][] = [
      ["number", "x".repeat(41)],
      ["customer", { id: ID }],
      ["issuedAt", "2024-01-01T00:00:00Z"],
      ["billing", { ok: true, __proto__: 1 }],
      ["surprise", 1],
    ];
    const orders = (items: [string, unknown][]): [string, unknown][][] =>
      items.length <= 1
        ? [items]
        : items.flatMap((item, i) =>
            orders([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
          );
    const seen = new Set<string>();
    for (const order of orders(entries)) {
      const data = JSON.parse(
        JSON.stringify(Object.fromEntries(order)).replace('"ok":true', '"ok":true,"__proto__":1'),
      );
      seen.add(JSON.stringify(codes(issuesOf(() => ModelSerializer.fromDict(Invoice, data))).sort()));
    }
    expect([...seen]).toEqual([
      JSON.stringify(["billing.__proto__:forbidden_key", "number:too_long", "surprise:unknown_key"]),
    ]);
  });

  it("valid input gives what the general path gives (updateFromDict reads the general way)", () => {
    const data = {
      number: "INV-2",
      issuedAt: "2024-05-06T07:08:09.123+02:00",
      billing: { street: "Main 1", lines: [1, 2.5, null, "x"], nested: { deep: [true] } },
      customer: { id: ID.toUpperCase() },
    };
    const compiled = ModelSerializer.fromDict(Invoice, data);
    const general = ModelSerializer.updateFromDict(new Invoice(), data);
    expect(compiled).toBeInstanceOf(Invoice);
    expect(compiled.customer).toBeInstanceOf(Customer);
    expect({ ...compiled, customer: { ...compiled.customer } }).toStrictEqual({
      ...general,
      customer: { ...general.customer },
    });
    expect(compiled.customer?.id).toBe(ID);
    expect(compiled.issuedAt?.toISOString()).toBe("2024-05-06T05:08:09.123Z");
  });
});
