import { Column, Entity, OneToMany } from "typeorm";
import { FullAuditModel } from "../entities/full-audit-model";
import { Product } from "./product";

/** Example model: an application user. */
@Entity("users")
export class User extends FullAuditModel {
  /** Login e-mail address. */
  @Column({ type: "varchar", length: 255 })
  email!: string;

  /** Display name. */
  @Column({ name: "display_name", type: "varchar", length: 100 })
  displayName!: string;

  /** Whether the account may sign in. */
  @Column({ name: "is_active", type: "boolean", default: true })
  isActive!: boolean;

  /** Products this user owns. */
  @OneToMany(() => Product, (product) => product.owner)
  products?: Product[];
}
