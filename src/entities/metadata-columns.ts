import { Column } from "typeorm";
import { SmartJsonColumn, type JsonValue } from "../columns/smart-json";

/**
 * Free-form data attached to a row. Embedded in {@link FullAuditModel} without a prefix, so the columns are
 * `metadata_json` (SmartJSON) and `tags` (varchar(500)).
 */
export class MetadataColumns {
  /** Any JSON value, or null (SQL NULL). */
  @SmartJsonColumn({ name: "metadata_json" })
  json!: JsonValue | null;

  /** Free text tags, at most 500 characters. */
  @Column({ name: "tags", type: "varchar", length: 500, nullable: true })
  tags!: string | null;
}
