/**
 * Serialization benchmark (no database): 10,000 FullAuditModel entities with a loaded relation, the library against
 * class-transformer, alternated round by round in one process. Used by `npm run bench` and runnable alone:
 * `npx ts-node --transpile-only bench/serialization.ts`.
 */
import "reflect-metadata";
import { instanceToPlain, plainToInstance } from "class-transformer";
import { isDeepStrictEqual } from "node:util";
import { ModelSerializer } from "../src";
import { Customer, Invoice } from "../test/support/shop-entities";
import { measure, type Measurement } from "./measure";

function makeInvoices(count: number): Invoice[] {
  const customer = Object.assign(new Customer(), {
    id: "01936f8e-7b1a-7c3d-8e4f-5a6b7c8d9e0f",
    email: "ada@example.com",
    passwordHash: "x",
    internalNote: null,
    loyaltyPoints: 12,
    isVip: true,
    createdAt: new Date("2024-01-01T00:00:00.000Z"),
    updatedAt: new Date("2024-01-02T00:00:00.000Z"),
    deletedAt: null,
    isDeleted: false,
  });
  customer.audit.createdBy = "u1";
  customer.metadata.json = { segment: "b2b" };
  return Array.from({ length: count }, (_, i) => {
    const invoice = Object.assign(new Invoice(), {
      id: `01936f8e-7b1a-7c3d-8e4f-${String(i).padStart(12, "0")}`,
      number: `INV-${i}`,
      issuedAt: new Date(1_700_000_000_000 + i),
      billing: { street: "Main 1", zip: "00-950", lines: [i, i + 1] },
      createdAt: new Date(1_700_000_000_000 + i),
      updatedAt: new Date(1_700_000_000_000 + i),
      deletedAt: null,
      isDeleted: false,
      customer,
    });
    invoice.audit.createdBy = "u1";
    invoice.audit.updatedBy = null;
    invoice.metadata.tags = "a,b";
    invoice.metadata.json = null;
    return invoice;
  });
}

export async function serializationBench(rounds: number): Promise<Measurement[]> {
  const invoices = makeInvoices(10_000);
  const expected = invoices.map((x) => JSON.parse(JSON.stringify(instanceToPlain(x))) as unknown);
  const ours = ModelSerializer.bulkToDict(invoices);
  if (!isDeepStrictEqual(ours, expected))
    throw new Error("bulkToDict and class-transformer disagree: the comparison would be meaningless");
  const plains = ours;
  const toDict = await measure(
    "to-dict",
    rounds,
    {
      library: () => void ModelSerializer.bulkToDict(invoices),
      "class-transformer": () => void invoices.map((x) => JSON.parse(JSON.stringify(instanceToPlain(x))) as unknown),
    },
    invoices.length,
  );
  const fromDict = await measure(
    "from-dict",
    rounds,
    {
      library: () => void plains.map((p) => ModelSerializer.fromDict(Invoice, p)),
      "class-transformer": () => void plains.map((p) => plainToInstance(Invoice, p)),
    },
    invoices.length,
  );
  return [...toDict, ...fromDict];
}

if (require.main === module) {
  serializationBench(process.argv.includes("--quick") ? 5 : 15).then(
    (rows) => console.table(rows),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
