import { Column } from "typeorm";
import { AuditColumns } from "./audit-columns";
import { BaseModel } from "./base-model";
import { MetadataColumns } from "./metadata-columns";

/**
 * {@link BaseModel} plus audit columns (`created_by`, `updated_by`) and metadata columns (`metadata_json`, `tags`).
 * New models should usually extend this.
 *
 * @example
 * @Entity("orders")
 * export class Order extends FullAuditModel {
 *   @Column({ type: "varchar", length: 100 })
 *   reference!: string;
 * }
 */
export abstract class FullAuditModel extends BaseModel {
  /** Who created and last updated the row. */
  @Column(() => AuditColumns, { prefix: false })
  audit: AuditColumns = new AuditColumns();

  /** Free-form JSON and tags. */
  @Column(() => MetadataColumns, { prefix: false })
  metadata: MetadataColumns = new MetadataColumns();
}
