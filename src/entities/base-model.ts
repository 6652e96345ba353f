import { Column, CreateDateColumn, DeleteDateColumn, PrimaryColumn, UpdateDateColumn } from "typeorm";
import { markColumn, markLibraryModel } from "../columns/column-kinds";
import { installUnmanagedWriteCheck } from "../typeorm/unmanaged-writes";
import { UuidTransformer } from "../columns/uuid-column";
import {
  ModelSerializer,
  type Dict,
  type ToDictOptions,
  type UpdateFromDictOptions,
} from "../serialization/model-serializer";

/**
 * The base of every model: a UUID primary key (a time-ordered UUIDv7 is generated in the application when none is
 * given), creation and update instants, and soft delete.
 *
 * Columns: `id`, `created_at`, `updated_at`, `deleted_at`, `is_deleted`. The instants keep milliseconds and are
 * stored as UTC on every dialect (`timestamptz(3)` on PostgreSQL, `datetime(6)` on MySQL/MariaDB, ISO text on
 * SQLite). `is_deleted` is a stored generated column (`deleted_at IS NOT NULL`), so it can never disagree with
 * `deleted_at`, whatever path wrote the row.
 *
 * @example
 * @Entity("orders")
 * class Order extends BaseModel {
 *   @Column({ type: "varchar", length: 100 })
 *   reference!: string;
 * }
 */
export abstract class BaseModel {
  /** UUID primary key; generated (UUIDv7) before insert when absent, validated when given. */
  @PrimaryColumn({
    type: "uuid",
    name: "id",
    transformer: new UuidTransformer({ entity: "BaseModel", property: "id" }),
  })
  id!: string;

  /** When the row was inserted (set by the application clock, millisecond precision). */
  @CreateDateColumn({ name: "created_at" })
  createdAt!: Date;

  /** When the row was last written (any update path, including soft delete and restore). */
  @UpdateDateColumn({ name: "updated_at" })
  updatedAt!: Date;

  /** When the row was soft-deleted, or null while it is live. */
  @DeleteDateColumn({ name: "deleted_at" })
  deletedAt!: Date | null;

  /** Whether the row is soft-deleted; computed by the database from `deleted_at`, read-only. */
  @Column({
    name: "is_deleted",
    type: "boolean",
    generatedType: "STORED",
    asExpression: "deleted_at IS NOT NULL",
    insert: false,
    update: false,
  })
  isDeleted!: boolean;

  /** This entity as a plain, JSON-ready object; see {@link ModelSerializer.toDict}. */
  toDict(options?: ToDictOptions): Dict {
    return ModelSerializer.toDict(this, options);
  }

  /**
   * Applies untrusted input to this entity; the id, the instants, `isDeleted` and the audit columns are never
   * changed. See {@link ModelSerializer.updateFromDict}.
   *
   * @throws ValidationError listing every problem; nothing is changed then.
   */
  updateFromDict(data: unknown, options?: UpdateFromDictOptions): this {
    return ModelSerializer.updateFromDict(this, data, options);
  }
}

markLibraryModel(BaseModel);
installUnmanagedWriteCheck();
markColumn(BaseModel, "id", "uuid");
markColumn(BaseModel, "createdAt", "instant");
markColumn(BaseModel, "updatedAt", "instant");
markColumn(BaseModel, "deletedAt", "instant");
