import { Column, Entity, VersionColumn } from "typeorm";
import { FullAuditModel } from "../../src";

/**
 * A note two people may edit at once: `@VersionColumn()` makes a save of a stale copy a `StaleEntityError` (409)
 * instead of a silent overwrite, and its version is the answer's `ETag`.
 */
@Entity("notes")
export class Note extends FullAuditModel {
  /** Bumped by every write; the `ETag` of GET answers. */
  @VersionColumn()
  version!: number;

  /** The note's title. */
  @Column({ type: "varchar", length: 200 })
  title!: string;

  /** The note's text. */
  @Column({ type: "varchar", length: 2000, default: "" })
  text!: string;
}
