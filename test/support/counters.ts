import { Column, Entity, PrimaryColumn } from "typeorm";
import type { DatabaseManager } from "../../src";
import { raw } from "./dialects";

/** A named counter: what the conflict tests increment from several sessions at once. */
@Entity("conflict_counters")
export class Counter {
  @PrimaryColumn({ type: "varchar", length: 20 })
  name!: string;

  @Column({ type: "integer" })
  value!: number;
}

/** A counter's value as stored, read with raw SQL. */
export async function stored(db: DatabaseManager, name = "c"): Promise<number> {
  const rows = await raw<{ value: number | string }>(db, "SELECT value FROM conflict_counters WHERE name = ?", [name]);
  return Number(rows[0]!.value);
}

/** The first `code` along an error's chain (the library's causes, TypeORM's driverError). */
export function chainCode(error: unknown): unknown {
  for (let e = error; typeof e === "object" && e !== null;) {
    const { code, driverError, cause } = e as { code?: unknown; driverError?: unknown; cause?: unknown };
    if (code !== undefined) return code;
    e = driverError ?? cause;
  }
  return undefined;
}
