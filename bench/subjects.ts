/**
 * The entities and raw statements the benchmark compares: the library's model, a plain TypeORM entity with the same
 * ten columns, and the raw driver writing the same ten columns.
 */
import { randomUUID } from "node:crypto";
import {
  Column,
  CreateDateColumn,
  DeleteDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  UpdateDateColumn,
  VersionColumn,
} from "typeorm";
import { FullAuditModel, History, JsonIndex, SmartJsonColumn, uuidv7, type JsonValue } from "../src";

/** The library's path: ten columns, all from FullAuditModel but `reference`. */
@Entity("bench_library")
export class BenchRow extends FullAuditModel {
  @Column({ type: "varchar", length: 100 })
  reference!: string;
}

/** The library's model with optimistic concurrency: {@link BenchRow} and a `@VersionColumn()`. */
@Entity("bench_versioned")
export class BenchVersioned extends FullAuditModel {
  @VersionColumn()
  version!: number;

  @Column({ type: "varchar", length: 100 })
  reference!: string;
}

/** The library's model with its change history recorded: {@link BenchRow} and `@History()`. */
@Entity("bench_history")
@History()
export class BenchHistory extends FullAuditModel {
  @Column({ type: "varchar", length: 100 })
  reference!: string;
}

/** Rows written a thousand at a time by criteria (`batch`, indexed), without history. */
@Entity("bench_batch")
export class BenchBatch extends FullAuditModel {
  @Index("ix_bench_batch_batch")
  @Column({ type: "integer" })
  batch!: number;

  @Column({ type: "varchar", length: 100 })
  reference!: string;
}

/** {@link BenchBatch} with its change history recorded. */
@Entity("bench_batch_history")
@History()
export class BenchBatchHistory extends FullAuditModel {
  @Index("ix_bench_batch_history_batch")
  @Column({ type: "integer" })
  batch!: number;

  @Column({ type: "varchar", length: 100 })
  reference!: string;
}

/** Plain TypeORM: the same ten columns, written the way a TypeORM user would. */
@Entity("bench_typeorm")
export class BenchPlain {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @CreateDateColumn({ name: "created_at" })
  createdAt!: Date;

  @UpdateDateColumn({ name: "updated_at" })
  updatedAt!: Date;

  @DeleteDateColumn({ name: "deleted_at" })
  deletedAt!: Date | null;

  @Column({ name: "is_deleted", type: "boolean", default: false })
  isDeleted!: boolean;

  @Column({ name: "created_by", type: "varchar", length: 255, nullable: true })
  createdBy!: string | null;

  @Column({ name: "updated_by", type: "varchar", length: 255, nullable: true })
  updatedBy!: string | null;

  @Column({ name: "metadata_json", type: "simple-json", nullable: true })
  metadataJson!: unknown;

  @Column({ type: "varchar", length: 500, nullable: true })
  tags!: string | null;

  @Column({ type: "varchar", length: 100 })
  reference!: string;
}

/** One row's values for the library (a plain object; the library fills id and instants). */
export function libraryValues(i: number): Partial<BenchRow> {
  return {
    reference: `ref-${i}`,
    audit: { createdBy: "bench", updatedBy: null },
    metadata: { json: { i, tag: "x" }, tags: "a,b" },
  };
}

/** The same row for plain TypeORM: the application gives the id, as TypeORM's own uuid generation would. */
export function plainValues(i: number): BenchPlain {
  return Object.assign(new BenchPlain(), {
    id: randomUUID(),
    isDeleted: false,
    createdBy: "bench",
    updatedBy: null,
    metadataJson: { i, tag: "x" },
    tags: "a,b",
    reference: `ref-${i}`,
  });
}

export const RAW_COLUMNS = [
  "id",
  "created_at",
  "updated_at",
  "deleted_at",
  "is_deleted",
  "created_by",
  "updated_by",
  "metadata_json",
  "tags",
  "reference",
];

/** The same row as raw driver parameters, in RAW_COLUMNS order. `time` is how the driver takes an instant. */
export function rawParams(
  i: number,
  time: (d: Date) => unknown,
  bool: (b: boolean) => unknown,
  id: () => string = uuidv7,
): unknown[] {
  const now = time(new Date());
  return [id(), now, now, null, bool(false), "bench", null, JSON.stringify({ i, tag: "x" }), "a,b", `ref-${i}`];
}

/**
 * The raw parameters of one of the library's input rows ({@link libraryValues}), in RAW_COLUMNS order: what a caller
 * of the raw driver does with the same objects (the bulk scenarios give both subjects the same input, built before
 * the clock).
 */
export function rawParamsOf(
  values: Partial<BenchRow>,
  time: (d: Date) => unknown,
  bool: (b: boolean) => unknown,
): unknown[] {
  const now = time(new Date());
  const { audit, metadata } = values;
  return [
    uuidv7(),
    now,
    now,
    null,
    bool(false),
    audit!.createdBy,
    audit!.updatedBy,
    JSON.stringify(metadata!.json),
    metadata!.tags,
    values.reference,
  ];
}

/** Documents for the JSON lookups, without an index on the looked-up path. */
@Entity("bench_json_plain")
export class BenchJson extends FullAuditModel {
  @SmartJsonColumn({ name: "body" })
  body!: JsonValue | null;
}

/** The same documents with a `@JsonIndex` on the looked-up path. */
@Entity("bench_json_indexed")
@JsonIndex("body", "customer")
export class BenchJsonIndexed extends FullAuditModel {
  @SmartJsonColumn({ name: "body" })
  body!: JsonValue | null;
}

/** One document: a customer id the lookups ask for, and a little more. */
export function jsonDocument(i: number): { body: JsonValue } {
  return {
    body: { customer: `c-${i}`, channel: i % 3 === 0 ? "web" : "shop", items: [{ sku: `s-${i % 50}`, qty: i % 5 }] },
  };
}
