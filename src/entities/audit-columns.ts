import { Column } from "typeorm";
import { markColumn, markManagedEmbeddable } from "../columns/column-kinds";

/**
 * Who created and who last updated a row: filled from {@link AuditContext} on every write path. Embedded in {@link FullAuditModel} without a prefix, so the columns are
 * `created_by` and `updated_by` (varchar(255), nullable).
 */
export class AuditColumns {
  /** Id of the actor who created the row, or null. */
  @Column({ name: "created_by", type: "varchar", length: 255, nullable: true })
  createdBy!: string | null;

  /** Id of the actor who last updated the row, or null. */
  @Column({ name: "updated_by", type: "varchar", length: 255, nullable: true })
  updatedBy!: string | null;
}

markManagedEmbeddable(AuditColumns);
markColumn(AuditColumns, "createdBy", "created-by");
markColumn(AuditColumns, "updatedBy", "updated-by");
