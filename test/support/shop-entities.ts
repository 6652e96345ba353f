import { Exclude, Expose, Transform } from "class-transformer";
import { Column, Entity, JoinColumn, ManyToOne, OneToMany } from "typeorm";
import { FullAuditModel, SmartJsonColumn, type JsonValue } from "../../src";

/** A customer with class-transformer decorators, as a NestJS app would write it. */
@Entity("customers")
export class Customer extends FullAuditModel {
  @Column({ type: "varchar", length: 120 })
  @Transform(({ value }) => (typeof value === "string" ? value.toLowerCase() : value), { toPlainOnly: true })
  email!: string;

  @Column({ name: "password_hash", type: "varchar", length: 100 })
  @Exclude()
  passwordHash!: string;

  @Column({ name: "internal_note", type: "varchar", length: 200, nullable: true })
  @Expose({ groups: ["admin"] })
  internalNote!: string | null;

  @Column({ name: "loyalty_points", type: "integer", default: 0 })
  loyaltyPoints!: number;

  @Column({ name: "is_vip", type: "boolean", default: false })
  isVip!: boolean;

  @OneToMany(() => Invoice, (invoice) => invoice.customer)
  invoices?: Invoice[];
}

/** An invoice: a many-to-one to its customer and a one-to-many to its lines. */
@Entity("invoices")
export class Invoice extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  number!: string;

  @Column({ name: "issued_at", type: Date, nullable: true })
  issuedAt!: Date | null;

  @SmartJsonColumn({ name: "billing" })
  billing!: JsonValue | null;

  @ManyToOne(() => Customer, (customer) => customer.invoices, { nullable: false })
  @JoinColumn({ name: "customer_id" })
  customer?: Customer;

  @OneToMany(() => InvoiceLine, (line) => line.invoice)
  lines?: InvoiceLine[];
}

/** One line of an invoice. */
@Entity("invoice_lines")
export class InvoiceLine extends FullAuditModel {
  @Column({ type: "varchar", length: 80 })
  label!: string;

  @Column({ type: "integer" })
  price!: number;

  @Column({ type: "float", default: 1 })
  quantity!: number;

  @ManyToOne(() => Invoice, (invoice) => invoice.lines, { nullable: false, onDelete: "CASCADE" })
  @JoinColumn({ name: "invoice_id" })
  invoice?: Invoice;
}

export const SHOP_ENTITIES = [Customer, Invoice, InvoiceLine];
