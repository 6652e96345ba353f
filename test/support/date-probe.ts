/**
 * Run as its own process (the process time zone is fixed at start): saves an app entity's `date` and reads it back
 * through find, a raw query and a `where` on it, printing what it got as JSON.
 */
import "reflect-metadata";
import { Column, Entity, PrimaryGeneratedColumn } from "typeorm";
import { DatabaseManager } from "../../src";

/** An application's own entity with a calendar date (TypeORM's `date`: a string on the entity). */
@Entity("app_calendar_days")
class Holiday {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: "date" })
  day!: string;
}

async function main(): Promise<void> {
  const db = new DatabaseManager({ url: process.env["DATABASE_URL"]!, entities: [Holiday] });
  await db.initialize();
  await db.createTables();
  try {
    const repository = db.getRepository(Holiday);
    await repository.createQueryBuilder().delete().execute();
    const { id } = await repository.save(Object.assign(new Holiday(), { day: "2026-03-01" }));
    const found = (await repository.findOneByOrFail({ id })).day;
    const [row] = (await repository.createQueryBuilder("h").select("h.day", "day").getRawMany()) as { day: unknown }[];
    const raw =
      row!.day instanceof Date
        ? [row!.day.getFullYear(), row!.day.getMonth() + 1, row!.day.getDate()]
        : String(row!.day);
    const byDay = (await repository.findBy({ day: "2026-03-01" })).map((h) => h.id === id);
    console.log(JSON.stringify({ offset: new Date(2026, 2, 1).getTimezoneOffset(), found, raw, byDay }));
  } finally {
    await db.close();
  }
}

void main();
