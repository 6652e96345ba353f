/**
 * toDict against class-transformer itself: every case compares `ModelSerializer.toDict(value, options)` with
 * `JSON.parse(JSON.stringify(instanceToPlain(value, options)))` on a fresh copy of the same value (class-transformer
 * writes discriminators onto the objects it serializes). The cases carry over the situations class-transformer's
 * own functional suite serializes (basic decorators, groups, versions, strategies, prefixes, ignoreDecorators,
 * inheritance, @Type with primitives, classes, discriminators and Maps, ES6 data types, custom transforms, target
 * maps, prototype keys), re-created here; the entity cases run on rows loaded from every dialect.
 */
import {
  Exclude,
  Expose,
  Transform,
  Type,
  instanceToPlain,
  plainToInstance,
  type ClassTransformOptions,
} from "class-transformer";
import { ChildEntity, Column, Entity, JoinColumn, ManyToOne, OneToMany, TableInheritance } from "typeorm";
import {
  FullAuditModel,
  ModelSerializer,
  SmartJsonColumn,
  ValidationError,
  type DatabaseManager,
  type JsonValue,
} from "../src";
import { DIALECTS, destroyTest, initTest, type TestDialect } from "./support/dialects";

const viaClassTransformer = (value: unknown, options?: ClassTransformOptions): unknown =>
  JSON.parse(JSON.stringify(instanceToPlain(value, options)) ?? "null");

interface Case {
  readonly name: string;
  readonly make: () => object;
  readonly options?: ClassTransformOptions;
}

// ---- basic decorators ------------------------------------------------------------------------------------------

class Photo {
  id = 1;
  filename = "me.jpg";
  @Exclude()
  storagePath = "/var/photos/me.jpg";
  description: string | undefined = undefined;
  tags: string[] = ["me", "sea"];
}

class Person {
  id = 7;
  firstName = "Ada";
  lastName = "Lovelace";
  @Exclude()
  password = "secret";
  @Type(() => Photo)
  photos: Photo[] = [new Photo(), new Photo()];
  @Type(() => Photo)
  avatar: Photo | null = new Photo();
  nothing: null = null;
  missing?: string;
  born = new Date("1815-12-10T00:00:00.000Z");

  @Expose()
  get name(): string {
    return `${this.firstName} ${this.lastName}`;
  }

  @Expose()
  initials(): string {
    return `${this.firstName[0]}${this.lastName[0]}`;
  }

  @Expose({ name: "family" })
  get familyName(): string {
    return this.lastName;
  }
}

class Account {
  id = 3;
  @Expose({ groups: ["user", "admin"] })
  email = "a@example.com";
  @Expose({ groups: ["admin"] })
  note = "late payer";
  @Expose({ name: "display", groups: ["user"] })
  displayName = "Ada";
  @Expose({ since: 1, until: 2 })
  legacyCode = "L-1";
  @Expose({ since: 2 })
  modernCode = "M-1";
  @Expose({ until: 1 })
  ancient = "A";
  _internal = "hidden by prefix";
  __secret = "hidden by prefix";
  $meta = "dollar";
  unset: string | undefined = undefined;
  plain = { nested: { deep: [1, { x: 2 }] }, _under: 1 };
}

@Exclude()
class ExposedOnly {
  @Expose()
  id = 1;
  @Expose({ name: "title" })
  name = "Exposed";
  hidden = "not exposed";
  @Expose()
  data = { a: 1 };
}

@Expose()
class ExposedAll {
  id = 1;
  @Exclude()
  hidden = "excluded";
  shown = "yes";
}

class NestedStrategy {
  id = 1;
  @Expose()
  kept = "kept";
  plainJson: JsonValue = { a: 1, b: [1, 2] };
  @Expose()
  exposedJson: JsonValue = { c: 3 };
  @Expose()
  @Type(() => Photo)
  photo = new Photo();
}

// ---- inheritance -------------------------------------------------------------------------------------------------

class BaseModelLike {
  id = 10;
  @Exclude()
  internal = "base secret";
  @Expose({ name: "created" })
  createdAt = new Date("2024-01-02T03:04:05.006Z");
}

class Child extends BaseModelLike {
  title = "child";
  @Expose()
  get shout(): string {
    return this.title.toUpperCase();
  }
}

class GrandChild extends Child {
  @Exclude()
  override title = "grand";
  extra = 1;
}

// ---- @Type: primitives, classes, discriminators, Maps --------------------------------------------------------

class Coerced {
  @Type(() => Number)
  price: unknown = "12.50";
  @Type(() => Number)
  notANumber: unknown = "abc";
  @Type(() => String)
  code: unknown = 42;
  @Type(() => Boolean)
  flag: unknown = "";
  @Type(() => Boolean)
  truthy: unknown = "no";
  @Type(() => Date)
  when: unknown = "2024-03-04T05:06:07.089Z";
  @Type(() => Date)
  epoch: unknown = 0;
  @Type(() => Date)
  invalid: unknown = "not a date";
  @Type(() => Number)
  nothing: unknown = null;
  @Type(() => Number)
  list: unknown = ["1", "2.5", "x"];
}

class Address {
  street = "Main 1";
  @Exclude()
  geo = "52.1,21.0";
}

class SecretAddress extends Address {
  @Exclude()
  override street = "hidden";
  city = "Warsaw";
}

class Shipment {
  @Type(() => Address)
  plainTo: unknown = { street: "Side 2", geo: "1,1" };
  @Type(() => SecretAddress)
  asSubclass: unknown = new Address();
  @Type(() => Address)
  list: unknown = [{ street: "A", geo: "x" }, new SecretAddress()];
}

abstract class Shape {
  abstract kind: string;
  @Exclude()
  cache = "drop";
}
class Circle extends Shape {
  kind = "circle";
  radius = 2;
}
class Square extends Shape {
  kind = "square";
  side = 3;
  @Exclude()
  secret = 1;
}

/** Shapes told apart by a `__type` property. */
const SHAPES = {
  discriminator: {
    property: "__type",
    subTypes: [
      { value: Circle, name: "circle" },
      { value: Square, name: "square" },
    ],
  },
};

class Drawing {
  @Type(() => Shape, SHAPES)
  main: Shape | null = new Square();

  @Type(() => Shape, SHAPES)
  shapes: Shape[] = [new Circle(), new Square(), new Circle()];

  @Type(() => Shape, {
    discriminator: {
      property: "kind",
      subTypes: [
        { value: Circle, name: "round" },
        { value: Square, name: "boxy" },
      ],
    },
    keepDiscriminatorProperty: true,
  })
  overwrite: Shape = new Circle();
}

class Lookup {
  @Type(() => Address)
  byCode = new Map<string, Address>([
    ["a", new Address()],
    ["b", new SecretAddress()],
  ]);
  names = new Map<string, string>([
    ["x", "1"],
    ["y", "2"],
  ]);
  untypedClasses = new Map<string, Address>([["c", new Address()]]);
  set = new Set(["p", "q", "p"]);
  @Type(() => Address)
  addressSet = new Set([new Address(), new SecretAddress()]);
  nestedMap = new Map<string, Map<string, number>>([["outer", new Map([["inner", 1]])]]);
  emptyMap = new Map();
  buffer = Buffer.from("hi!");
  bytes = new Uint8Array([1, 2]);
}

// ---- custom transforms ---------------------------------------------------------------------------------------

class Transformed {
  @Transform(({ value, options }) => `${String(value)}:${(options.groups ?? []).join("+")}`)
  grouped = "g";
  @Transform(({ value, options }) => ((options.version ?? 0) >= 2 ? `v2-${String(value)}` : value))
  versioned = "x";
  @Transform(({ value }) => String(value).toUpperCase(), { toPlainOnly: true })
  upper = "shout";
  @Transform(({ value }) => String(value).toUpperCase(), { toClassOnly: true })
  classOnly = "quiet";
  @Transform(({ value }) => (value as number) * 2)
  @Transform(({ value }) => (value as number) + 1)
  stacked = 5;
  @Transform(() => undefined)
  removed = "gone";
  @Transform(({ value }) => value)
  same = "same";
  @Transform(({ value }) => (value as Date).getTime())
  date = new Date("2024-01-01T00:00:00.000Z");
  @Transform(({ value }) => `admin:${String(value)}`, { groups: ["admin"] })
  adminOnly = "a";
  @Transform(({ value }) => `since2:${String(value)}`, { since: 2 })
  fromV2 = "b";
  @Transform(({ obj }) => (obj as Transformed).same.length)
  fromObject = 0;
  @Expose()
  @Transform(({ value }) => `got ${String(value)}`)
  get computed(): string {
    return "getter";
  }
  @Transform(({ key }) => key)
  keyName = "";
}

class TargetMapped {
  price: unknown = "9.99";
  when: unknown = "2024-05-06T07:08:09.000Z";
  address: unknown = { street: "S", geo: "g" };
}

class Stacked {
  @Expose({ groups: ["a"] })
  @Expose({ groups: ["b"], name: "renamed" })
  value = 1;
}

class Awaitable {
  id = 1;
  later = Promise.resolve(2);
}

// ---- prototype keys, odd values ----------------------------------------------------------------------------------

class Odd {
  json: JsonValue = JSON.parse('{"__proto__": {"polluted": true}, "safe": 2}') as JsonValue;
  nan = Number.NaN;
  inf = Number.POSITIVE_INFINITY;
  badDate = new Date("nope");
  fn = () => "called";
  sym = Symbol("s");
  sparse: unknown[] = [1, undefined, () => 1, 3];
  nested = [[new Photo()], []];
}

const CASES: Case[] = [
  { name: "a class with excluded, exposed getter, method and renamed properties", make: () => new Person() },
  { name: "arrays of instances at the top", make: () => [new Photo(), new Photo()] },
  { name: "groups: none asked", make: () => new Account() },
  { name: "groups: user", make: () => new Account(), options: { groups: ["user"] } },
  { name: "groups: admin", make: () => new Account(), options: { groups: ["admin"] } },
  { name: "groups: unknown", make: () => new Account(), options: { groups: ["nobody"] } },
  { name: "version 0.5", make: () => new Account(), options: { version: 0.5 } },
  { name: "version 1", make: () => new Account(), options: { version: 1 } },
  { name: "version 2", make: () => new Account(), options: { version: 2 } },
  { name: "excludePrefixes", make: () => new Account(), options: { excludePrefixes: ["_", "$"] } },
  { name: "exposeUnsetFields false", make: () => new Account(), options: { exposeUnsetFields: false } },
  { name: "class-level @Exclude with @Expose", make: () => new ExposedOnly() },
  { name: "class-level @Expose with @Exclude", make: () => new ExposedAll() },
  { name: "strategy excludeAll", make: () => new NestedStrategy(), options: { strategy: "excludeAll" } },
  { name: "strategy excludeAll on a plain class", make: () => new Photo(), options: { strategy: "excludeAll" } },
  { name: "strategy exposeAll", make: () => new ExposedOnly(), options: { strategy: "exposeAll" } },
  { name: "excludeExtraneousValues", make: () => new NestedStrategy(), options: { excludeExtraneousValues: true } },
  {
    name: "excludeExtraneousValues with groups",
    make: () => new Account(),
    options: { excludeExtraneousValues: true, groups: ["admin"] },
  },
  { name: "ignoreDecorators", make: () => new Person(), options: { ignoreDecorators: true } },
  {
    name: "ignoreDecorators with groups",
    make: () => new Account(),
    options: { ignoreDecorators: true, groups: ["admin"] },
  },
  {
    name: "ignoreDecorators with excludeExtraneousValues",
    make: () => new Account(),
    options: { ignoreDecorators: true, excludeExtraneousValues: true },
  },
  { name: "inheritance: child", make: () => new Child() },
  { name: "inheritance: grandchild", make: () => new GrandChild() },
  { name: "@Type coercions to Number, String, Boolean and Date", make: () => new Coerced() },
  { name: "@Type to a class and to a subclass", make: () => new Shipment() },
  { name: "@Type discriminators: single, arrays, kept property", make: () => new Drawing() },
  {
    name: "@Type discriminator with a null value",
    make: () => Object.assign(new Drawing(), { main: null }),
  },
  { name: "Maps, Sets, Buffers and typed arrays", make: () => new Lookup() },
  { name: "custom transforms without options", make: () => new Transformed() },
  { name: "custom transforms with groups", make: () => new Transformed(), options: { groups: ["admin", "user"] } },
  { name: "custom transforms with a version", make: () => new Transformed(), options: { version: 2 } },
  {
    name: "targetMaps",
    make: () => new TargetMapped(),
    options: {
      targetMaps: [{ target: TargetMapped, properties: { price: Number, when: Date, address: Address } }],
    },
  },
  { name: "stacked @Expose: no group", make: () => new Stacked() },
  { name: "stacked @Expose: group a", make: () => new Stacked(), options: { groups: ["a"] } },
  { name: "stacked @Expose: group b", make: () => new Stacked(), options: { groups: ["b"] } },
  { name: "a promise property", make: () => new Awaitable() },
  {
    name: "prototype keys, non-finite numbers, invalid dates, functions, symbols, sparse arrays",
    make: () => new Odd(),
  },
  {
    name: "a plain object graph",
    make: () => ({ a: 1, b: [new Photo(), { c: new Date(5) }], d: { __proto__: null, e: undefined, f: "x" } }),
  },
];

describe("toDict gives class-transformer's body", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", (_name, testCase) => {
    const expected = viaClassTransformer(testCase.make(), testCase.options);
    const ours = ModelSerializer.toDict(testCase.make(), testCase.options as never);
    expect(ours).toStrictEqual(expected);
    // the same body, byte for byte: keys in the same order
    expect(JSON.stringify(ours)).toBe(JSON.stringify(expected));
    // bulkToDict (one converter for the list) gives the same
    expect(ModelSerializer.bulkToDict([testCase.make(), testCase.make()], testCase.options as never)).toStrictEqual([
      expected,
      expected,
    ]);
  });

  it("a JSON value with a constructor key: class-transformer throws, toDict leaves the key out", () => {
    const value = { json: JSON.parse('{"constructor": 1, "__proto__": 2, "safe": 3}') as JsonValue };
    expect(() => instanceToPlain(value)).toThrow(TypeError);
    expect(ModelSerializer.toDict(value)).toStrictEqual({ json: { safe: 3 } });
  });

  it("instances of one class with other keys, key orders or inherited keys give class-transformer's body", () => {
    class Shape {
      id = 1;
      name: string | undefined = "a";
      @Exclude()
      secret = "s";
      when: unknown = new Date(86_400_000);
      @Transform(({ value }: { value: unknown }) => value ?? "filled in")
      label: string | undefined = "x";
    }
    const variants: (() => object)[] = [
      () => new Shape(),
      () => Object.assign(new Shape(), { extra: { deep: [1, Number.NaN] } }),
      () => {
        const s = new Shape();
        delete (s as Partial<Shape>).name;
        return s;
      },
      () => {
        const s = new Shape();
        delete (s as Partial<Shape>).label;
        return s;
      },
      () => {
        const s = new Shape() as unknown as Record<string, unknown>;
        delete s["id"];
        s["id"] = "last";
        return s;
      },
      () => Object.assign(new Shape(), { name: undefined, when: () => "called" }),
      () => Object.assign(new Shape(), { when: Number.POSITIVE_INFINITY }),
      // more key orders than the compiled writers kept per class
      ...Array.from({ length: 10 }, (_, i) => () => Object.assign(new Shape(), { [`k${i}`]: i })),
    ];
    const all = [...variants, ...variants].map((make) => make());
    const expected = all.map((value) => viaClassTransformer(value));
    expect(JSON.stringify(ModelSerializer.bulkToDict(all))).toBe(JSON.stringify(expected));
    // an enumerable key on the prototype: for...in shows it, class-transformer takes it too
    class Inherits extends Shape {}
    (Inherits.prototype as unknown as Record<string, unknown>)["inherited"] = "from the prototype";
    const inherits = [new Inherits(), new Shape(), new Inherits()];
    expect(JSON.stringify(ModelSerializer.bulkToDict(inherits))).toBe(
      JSON.stringify(inherits.map((value) => viaClassTransformer(value))),
    );
  });

  it("leaves the caller's objects as they were (class-transformer writes discriminators onto them)", () => {
    const drawing = new Drawing();
    ModelSerializer.toDict(drawing);
    expect(Object.keys(drawing.main!)).not.toContain("__type");
    expect(drawing.overwrite.kind).toBe("circle");
  });
});

// ---- entities loaded from every dialect ----------------------------------------------------------------------------

function parityEntities(dialect: TestDialect) {
  @Entity("parity_brands")
  class Brand extends FullAuditModel {
    @Column({ type: "varchar", length: 40 })
    name!: string;

    @Exclude()
    @Column({ type: "varchar", length: 40, nullable: true })
    secret!: string | null;

    @OneToMany(() => Gadget, (gadget) => gadget.brand)
    gadgets!: Gadget[];
  }

  @Entity("parity_gadgets")
  class Gadget extends FullAuditModel {
    @Column({ type: "varchar", length: 40 })
    @Transform(({ value, options }) => (options.groups?.includes("admin") ? `${String(value)} (admin)` : value))
    label!: string;

    @Column({ type: "decimal", precision: 10, scale: 2 })
    @Type(() => Number)
    price!: string | number;

    @Column({ type: "decimal", precision: 10, scale: 2, nullable: true })
    rawPrice!: string | number | null;

    @Column({ type: dialect === "postgres" ? "bytea" : "blob", nullable: true })
    picture!: Buffer | null;

    @SmartJsonColumn({ name: "specs" })
    specs!: JsonValue | null;

    @Column({ type: "varchar", length: 40, nullable: true })
    @Expose({ groups: ["admin"] })
    supplier!: string | null;

    @Column({ type: "varchar", length: 40, nullable: true })
    @Expose({ since: 2 })
    sku!: string | null;

    @Column({ name: "_internal", type: "varchar", length: 40, nullable: true })
    _internal!: string | null;

    @ManyToOne(() => Brand, (brand) => brand.gadgets, { nullable: true })
    @JoinColumn({ name: "brand_id" })
    @Type(() => Brand)
    brand!: Brand | null;
  }
  return { Brand, Gadget };
}

const ENTITY_OPTIONS: (ClassTransformOptions | undefined)[] = [
  undefined,
  { groups: ["admin"] },
  { version: 2 },
  { excludePrefixes: ["_"] },
  { strategy: "excludeAll" },
  { excludeExtraneousValues: true },
  { exposeUnsetFields: false },
  { ignoreDecorators: true },
];

describe.each(DIALECTS)("%s: toDict of loaded entities gives class-transformer's body", (dialect: TestDialect) => {
  const { Brand, Gadget } = parityEntities(dialect);
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Brand, Gadget]);
    const brand = await db.getRepository(Brand).save(Object.assign(new Brand(), { name: "Acme", secret: "s" }));
    await db.getRepository(Gadget).save(
      Object.assign(new Gadget(), {
        label: "Teapot",
        price: "12.50",
        rawPrice: "3.10",
        picture: Buffer.from("12"),
        specs: JSON.parse('{"__proto__": {"x": 1}, "watts": 1200, "colours": ["red"]}') as JsonValue,
        supplier: "Tea Ltd",
        sku: "T-1",
        _internal: "i",
        brand,
      }),
    );
  });
  afterAll(() => destroyTest(db));

  const load = () => db.getRepository(Gadget).find({ relations: { brand: { gadgets: false } } });

  it.each(ENTITY_OPTIONS.map((o) => [JSON.stringify(o ?? {}), o] as const))("options %s", async (_name, options) => {
    const [first] = await load();
    const [second] = await load();
    const expected = viaClassTransformer(first, options);
    expect(ModelSerializer.toDict(second!, options as never)).toStrictEqual(expected);
  });

  it("a decimal marked @Type(() => Number) goes out as a number, a Buffer as { type, data }", async () => {
    const [gadget] = await load();
    const body = ModelSerializer.toDict(gadget!);
    expect(body["price"]).toBe(12.5);
    expect(body["picture"]).toEqual({ type: "Buffer", data: [49, 50] });
    expect(Object.keys(body["specs"] as object)).toEqual(["watts", "colours"]);
  });
});

// ---- fromDict and @Type: TypeORM single-table inheritance with a class-transformer discriminator ----------------

function inheritanceEntities() {
  @Entity("parity_payments")
  @TableInheritance({ column: { type: "varchar", length: 20, name: "kind" } })
  class Payment extends FullAuditModel {
    @Column({ type: "integer" })
    amount!: number;

    @ManyToOne(() => Basket, (basket) => basket.payments, { nullable: true, onDelete: "CASCADE" })
    @JoinColumn({ name: "basket_id" })
    basket!: unknown;
  }

  @ChildEntity("card")
  class CardPayment extends Payment {
    @Column({ type: "varchar", length: 4, nullable: true })
    last4!: string | null;
  }

  @ChildEntity("bank")
  class BankPayment extends Payment {
    @Column({ type: "varchar", length: 34, nullable: true })
    iban!: string | null;
  }

  @Entity("parity_baskets")
  class Basket extends FullAuditModel {
    @Column({ type: "varchar", length: 40 })
    label!: string;

    @OneToMany(() => Payment, (payment) => payment.basket, { cascade: true })
    @Type(() => Payment, {
      discriminator: {
        property: "__type",
        subTypes: [
          { value: CardPayment, name: "card" },
          { value: BankPayment, name: "bank" },
        ],
      },
    })
    payments!: Payment[];
  }
  return { Payment, CardPayment, BankPayment, Basket };
}

describe.each(DIALECTS)("%s: fromDict honours @Type discriminators", (dialect: TestDialect) => {
  const { Payment, CardPayment, BankPayment, Basket } = inheritanceEntities();
  let db: DatabaseManager;
  const body = () => ({
    label: "groceries",
    payments: [
      { __type: "card", amount: 5, last4: "1234" },
      { __type: "bank", amount: 7, iban: "DE89370400440532013000" },
    ],
  });

  beforeAll(async () => {
    db = await initTest(dialect, [Payment, CardPayment, BankPayment, Basket]);
  });
  afterAll(() => destroyTest(db));

  it("builds each item as the subtype its discriminator names, as plainToInstance does, without the property", () => {
    const basket = ModelSerializer.fromDict(Basket, body());
    const viaClassTransformer = plainToInstance(Basket, body());
    expect(basket.payments.map((p) => p.constructor)).toEqual([CardPayment, BankPayment]);
    expect(viaClassTransformer.payments.map((p) => p.constructor)).toEqual([CardPayment, BankPayment]);
    expect(basket.payments.map((p) => Object.keys(p).includes("__type"))).toEqual([false, false]);
    expect((basket.payments[0] as InstanceType<typeof CardPayment>).last4).toBe("1234");
  });

  it("keeps every check on the subtype's columns, and an unknown subtype is the base type", () => {
    const bad = body();
    bad.payments[0]!.last4 = "12345";
    const error = (() => {
      try {
        ModelSerializer.fromDict(Basket, bad);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([
      { path: "payments[0].last4", code: "too_long", message: "5 characters given, at most 4 allowed" },
    ]);
    const other = ModelSerializer.fromDict(Basket, { label: "x", payments: [{ __type: "cash", amount: 1 }] });
    expect(other.payments[0]!.constructor).toBe(Payment);
  });

  it("saved and loaded, toDict writes the discriminator back and the body round-trips", async () => {
    const saved = await db.getRepository(Basket).save(ModelSerializer.fromDict(Basket, body()));
    const load = () =>
      db.getRepository(Basket).findOneOrFail({
        where: { id: saved.id },
        relations: { payments: true },
        order: { payments: { amount: "ASC" } },
      });
    const loaded = await load();
    const out = ModelSerializer.toDict(loaded);
    expect(out).toStrictEqual(JSON.parse(JSON.stringify(instanceToPlain(await load()))));
    expect((out["payments"] as { __type: string }[]).map((p) => p.__type)).toEqual(["card", "bank"]);
    const again = ModelSerializer.fromDict(Basket, out, { protectedKeys: "accept" });
    expect(ModelSerializer.toDict(again)).toStrictEqual(out);
  });
});
