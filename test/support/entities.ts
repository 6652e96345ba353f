import { Column, Entity } from "typeorm";
import { FullAuditModel, SmartJsonColumn, type JsonValue } from "../../src";

/** The order model the tests use, as an application would write it. */
@Entity("orders")
export class Order extends FullAuditModel {
  @Column({ type: "varchar", length: 100 })
  reference!: string;

  @SmartJsonColumn({ name: "payload" })
  payload!: JsonValue | null;
}

/** Makes an unsaved order. */
export function newOrder(reference = "A-1"): Order {
  const order = new Order();
  order.reference = reference;
  return order;
}

/** A model whose table name is an SQL keyword, so every statement about it must quote it. */
@Entity("group")
export class Group extends FullAuditModel {
  @Column({ name: "order", type: "integer", default: 0 })
  order!: number;
}
