import { isoString, parseIsoInstant, parseStoredUtcDatetime, storedUtcDatetime } from "../src/util/iso-date";

/** The serializer writes instants through its own formatter; it must give exactly what toISOString gives. */
describe("isoString", () => {
  it("equals toISOString at the edges: epoch, leap days, year and century boundaries, the four-digit range", () => {
    const edges = [
      0, -1, 1, 951_782_400_000, 951_868_799_999, 946_684_799_999, 4_107_542_400_000, -2_203_891_200_001,
      1_709_251_199_999, 1_709_251_200_000, -62_167_219_200_000, 253_402_300_799_999,
    ];
    for (const time of edges) expect([time, isoString(new Date(time))]).toEqual([time, new Date(time).toISOString()]);
  });

  it("outside years 0000 to 9999 and for invalid dates, answers as the engine does (null for invalid)", () => {
    for (const time of [-62_167_219_200_001, 253_402_300_800_000, 8.64e15, -8.64e15])
      expect(isoString(new Date(time))).toBe(new Date(time).toISOString());
    expect(isoString(new Date(Number.NaN))).toBeNull();
  });

  it("equals toISOString on 200,000 random instants across the whole range", () => {
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const mismatches: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      const time = Math.floor(-62_167_219_200_000 + random() * 315_569_520_000_000);
      if (isoString(new Date(time)) !== new Date(time).toISOString()) mismatches.push(time);
    }
    expect(mismatches).toEqual([]);
  });

  it("gives the right text for instants met again, for instants sharing a cache slot and for days met again", () => {
    const base = 1_709_251_199_999; // the last millisecond of 2024-02-29
    const times = [base, base + 1024, base, base + 1, base - 86_400_000, base + 1024, base + 86_400_000 * 1024, base];
    const seen = [...times, ...times].map((time) => isoString(new Date(time)));
    expect(seen).toEqual([...times, ...times].map((time) => new Date(time).toISOString()));
  });

  it("reads SQLite's stored datetime text to the instant TypeORM's hydration gives, and leaves other text to it", () => {
    // TypeORM's own hydration of a datetime column (the SQLite drivers' shared method, called as they call it)
    const { AbstractSqliteDriver } = jest.requireActual<
      typeof import("typeorm/driver/sqlite-abstract/AbstractSqliteDriver")
    >("typeorm/driver/sqlite-abstract/AbstractSqliteDriver");
    const typeorm = (text: string) =>
      (
        AbstractSqliteDriver.prototype.prepareHydratedValue.call({}, text, { type: "datetime" } as never) as Date
      ).getTime();
    const read = [
      "2024-02-29 23:59:59.999",
      "2024-02-29 23:59:59",
      "2024-02-29 23:59",
      "1970-01-01 00:00:00.000",
      "0001-01-01 00:00:00.000",
      "9999-12-31 23:59:59.999",
    ];
    for (const text of read) expect([text, parseStoredUtcDatetime(text)]).toEqual([text, typeorm(text)]);
    const left = [
      "2023-02-29 00:00:00.000",
      "2024-01-01 00:00:00.12",
      "2024-01-01 00:00:60.000",
      "2024-01-01T00:00:00.000",
      "2024-01-01 00:00:00.000+02:00",
      "2024-01-01 00:00:00Z",
      "2024-01-01",
      "",
    ];
    for (const text of left) expect([text, parseStoredUtcDatetime(text)]).toEqual([text, undefined]);
    let seed = 11;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let i = 0; i < 20_000; i++) {
      const stored = new Date(Math.floor(random() * 253_402_300_799_999)).toISOString().replace("T", " ").slice(0, 23);
      if (parseStoredUtcDatetime(stored) !== typeorm(stored)) expect([stored, parseStoredUtcDatetime(stored)]).toBe("");
    }
  });

  it("writes an instant as TypeORM's SQLite drivers write a datetime column, one flat string; other years left to them", () => {
    // the reference: TypeORM's own conversion of a datetime column (the SQLite drivers' shared method)
    const { AbstractSqliteDriver } = jest.requireActual<
      typeof import("typeorm/driver/sqlite-abstract/AbstractSqliteDriver")
    >("typeorm/driver/sqlite-abstract/AbstractSqliteDriver");
    const typeorm = (date: Date) =>
      AbstractSqliteDriver.prototype.preparePersistentValue.call({}, date, { type: "datetime" } as never) as string;
    const edges = [
      0, -1, 1, 951_782_400_000, 1_709_251_199_999, -62_167_219_200_000, 253_402_300_799_999, -30_610_224_000_001,
    ];
    // each twice in a row: the second answer is the one remembered
    for (const time of edges.flatMap((t) => [t, t]))
      expect([time, storedUtcDatetime(new Date(time))]).toEqual([time, typeorm(new Date(time))]);
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const mismatches: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      const time = Math.floor(-62_167_219_200_000 + random() * 315_569_520_000_000);
      if (storedUtcDatetime(new Date(time)) !== typeorm(new Date(time))) mismatches.push(time);
    }
    expect(mismatches).toEqual([]);
    // years TypeORM writes otherwise (five digits cut to four, a sign), and invalid dates: the driver's to convert
    for (const time of [-62_167_219_200_001, 253_402_300_800_000, 8.64e15, Number.NaN])
      expect(storedUtcDatetime(new Date(time))).toBeUndefined();
    expect(storedUtcDatetime(new Date(0))).toBe("1970-01-01 00:00:00.000");
  });

  it("parseIsoInstant answers a text read again the same, valid or not", () => {
    const texts = ["2024-02-29T23:59:59.999Z", "2024-02-29T23:59:59.999Z", "nope", "nope", "2024-02-30T00:00:00Z"];
    const twice = [...texts, ...texts, "2024-02-29T23:59:59.999+01:00"];
    expect(twice.map(parseIsoInstant)).toEqual(
      twice.map((text) => (text === "nope" || text.startsWith("2024-02-30") ? undefined : Date.parse(text))),
    );
  });
});
