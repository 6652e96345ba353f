/**
 * Run as its own process (the process time zone is fixed at start): saves an app entity's `date` and reads it back
 * through every way rows arrive (find, a raw query, the library's findById, a where on it and, on MySQL / MariaDB, a
 * stream and a prepared statement), printing what it got as JSON.
 */
import "reflect-metadata";
import { Column, Entity, PrimaryGeneratedColumn } from "typeorm";
import { BaseModel, DatabaseManager } from "../../src";

/** An application's own entity with a calendar date (TypeORM's `date`: a string on the entity). */
@Entity("app_calendar_days")
class Holiday {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: "date" })
  day!: string;
}

/** A model with a calendar date, read through the library's own compiled SELECT. */
@Entity("app_appointments")
class Appointment extends BaseModel {
  @Column({ type: "date" })
  day!: string;
}

/** A raw DATE as its local calendar fields when the driver gives a `Date`, else its text. */
function rawDay(value: unknown): unknown {
  return value instanceof Date ? [value.getFullYear(), value.getMonth() + 1, value.getDate()] : String(value);
}

async function main(): Promise<void> {
  const db = new DatabaseManager({ url: process.env["DATABASE_URL"]!, entities: [Holiday, Appointment] });
  await db.initialize();
  await db.createTables();
  try {
    const repository = db.getRepository(Holiday);
    await repository.createQueryBuilder().delete().execute();
    const { id } = await repository.save(Object.assign(new Holiday(), { day: "2026-03-01" }));
    const found = (await repository.findOneByOrFail({ id })).day;
    const [row] = (await repository.createQueryBuilder("h").select("h.day", "day").getRawMany()) as { day: unknown }[];
    // streams: MySQL / MariaDB only here (SQLite has none, PostgreSQL's needs pg-query-stream)
    const mysql = db.dataSource.options.type === "mysql" || db.dataSource.options.type === "mariadb";
    const streamed: unknown[] | null = mysql ? [] : null;
    if (streamed) {
      const stream = await repository.createQueryBuilder("h").select("h.day", "day").stream();
      for await (const chunk of stream) streamed.push(rawDay((chunk as { day: unknown }).day));
    }
    const byDay = (await repository.findBy({ day: "2026-03-01" })).map((h) => h.id === id);
    const appointment = await db
      .getRepository(Appointment)
      .save(Object.assign(new Appointment(), { day: "2026-03-01" }));
    const direct = (await db.findById(Appointment, appointment.id))?.day;
    const pool = (db.dataSource.driver as { pool?: { execute: Function } }).pool;
    const prepared =
      mysql && pool
        ? await new Promise((resolve, reject) =>
            pool.execute(
              "SELECT day FROM app_calendar_days WHERE id = ?",
              [id],
              (error: Error | null, rows: unknown) =>
                error ? reject(error) : resolve(rawDay((rows as { day: unknown }[])[0]!.day)),
            ),
          )
        : null;
    console.log(
      JSON.stringify({
        offset: new Date(2026, 2, 1).getTimezoneOffset(),
        found,
        raw: rawDay(row!.day),
        streamed,
        direct,
        prepared,
        byDay,
      }),
    );
  } finally {
    await db.close();
  }
}

void main();
