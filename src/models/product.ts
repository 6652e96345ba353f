import { Exclude, Expose } from "class-transformer";
import { Column, Entity, JoinColumn, ManyToOne } from "typeorm";
import { SmartJsonColumn, type JsonValue } from "../columns/smart-json";
import { JsonIndex } from "../columns/json-index";
import { UniqueWhileActive } from "../columns/unique-while-active";
import { FullAuditModel } from "../entities/full-audit-model";
import type { User } from "./user";

/**
 * Example model: a product in a catalogue; its sku is unique among the products that are not deleted, and its
 * attributes' colour is indexed. `name`, `sku` and `priceCents` are `@Expose`d and `label` is exposed for the
 * `catalog` group, so a `strategy: "excludeAll", groups: ["catalog"]` view shows only those (the default view is
 * unchanged: every column but `costCents`).
 */
@Entity("products")
@UniqueWhileActive(["sku"])
@JsonIndex("attributes", "colour")
export class Product extends FullAuditModel {
  /** Product name. */
  @Column({ type: "varchar", length: 200 })
  @Expose()
  name!: string;

  /** Stock-keeping unit, unique per catalogue. */
  @Column({ type: "varchar", length: 64 })
  @Expose()
  sku!: string;

  /** Price in cents (integers, so no rounding on any database). */
  @Column({ name: "price_cents", type: "integer" })
  @Expose()
  priceCents!: number;

  /** Name and sku for a catalogue line; serialized only for the `catalog` group. */
  @Expose({ groups: ["catalog"] })
  get label(): string {
    return `${this.name} (${this.sku})`;
  }

  /** What the product costs the shop, in cents: internal, never serialized (`@Exclude`). */
  @Column({ name: "cost_cents", type: "integer", default: 0 })
  @Exclude()
  costCents!: number;

  /** The maker's brand, if known; no declared length, so 255 characters on every database. */
  @Column({ type: "varchar", nullable: true })
  brand!: string | null;

  /** Whether the product is listed. */
  @Column({ name: "is_listed", type: "boolean", default: true })
  isListed!: boolean;

  /** Free-form attributes (colour, size, ...). */
  @SmartJsonColumn({ name: "attributes" })
  attributes!: JsonValue | null;

  /** The user who owns the product, if any. */
  @ManyToOne("User", (user: User) => user.products, { nullable: true, onDelete: "SET NULL" })
  @JoinColumn({ name: "owner_id" })
  owner?: User | null;
}
