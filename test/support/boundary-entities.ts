import { Exclude } from "class-transformer";
import { Column, Entity, JoinColumn, JoinTable, ManyToMany, ManyToOne, OneToMany } from "typeorm";
import { FullAuditModel, UniqueWhileActive } from "../../src";

/** A customer's basket: lines it owns (cascade), a many-to-one owner, tags shared between baskets. */
@Entity("basket")
export class Basket extends FullAuditModel {
  @Column({ type: "varchar", length: 60 })
  label!: string;

  /** What the shop paid: never sent to clients, never taken from them. */
  @Column({ name: "cost_cents", type: "integer", default: 0 })
  @Exclude()
  costCents!: number;

  /** Never loaded unless asked for. */
  @Column({ name: "secret_note", type: "varchar", length: 60, nullable: true, select: false })
  secretNote!: string | null;

  @OneToMany(() => BasketLine, (line) => line.basket, { cascade: true })
  lines?: BasketLine[];

  @ManyToMany(() => BasketTag, { cascade: true })
  @JoinTable({ name: "basket_tags" })
  tags?: BasketTag[];
}

/** A line of a basket; its product is a reference. */
@Entity("basket_line")
export class BasketLine extends FullAuditModel {
  @Column({ type: "varchar", length: 60 })
  label!: string;

  @Column({ type: "smallint", default: 1 })
  quantity!: number;

  @ManyToOne(() => Basket, (basket) => basket.lines, { nullable: true })
  @JoinColumn({ name: "basket_id" })
  basket?: Basket | null;

  @ManyToOne(() => BoundaryProduct, { nullable: true, cascade: true })
  @JoinColumn({ name: "product_id" })
  product?: BoundaryProduct | null;
}

/** A product lines refer to; every integer width the range checks know. */
@Entity("boundary_product")
@UniqueWhileActive(["sku"])
export class BoundaryProduct extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  sku!: string;

  @Column({ name: "price_cents", type: "integer", default: 0 })
  priceCents!: number;

  @Column({ type: "smallint", default: 0 })
  stock!: number;

  @Column({ type: "bigint", default: 0 })
  views!: string | number;

  @Column({ type: "decimal", precision: 8, scale: 2, default: 0 })
  weight!: string | number;
}

/** A tag shared between baskets (many-to-many). */
@Entity("basket_tag")
export class BasketTag extends FullAuditModel {
  @Column({ type: "varchar", length: 30 })
  name!: string;
}

export const BOUNDARY_ENTITIES = [Basket, BasketLine, BoundaryProduct, BasketTag];
