import { Injectable, NotFoundException } from "@nestjs/common";
import { InjectDataSource, InjectRepository } from "@nestjs/typeorm";
import { DataSource, type Repository } from "typeorm";
import { DatabaseManager, ModelSerializer } from "../../src";
import { Product, User } from "../../src/models";

/** Products: input read with fromDict/updateFromDict (every issue at once), writes in sessions. */
@Injectable()
export class ProductsService {
  constructor(
    @InjectRepository(Product) private readonly products: Repository<Product>,
    @InjectRepository(User) private readonly users: Repository<User>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly db: DatabaseManager,
  ) {}

  /** Live and deleted products, through the injected DataSource (the manager's own). */
  async count(): Promise<{ live: number; all: number; sameDataSource: boolean }> {
    const repository = this.dataSource.getRepository(Product);
    return {
      live: await repository.count(),
      all: await repository.count({ withDeleted: true }),
      sameDataSource: this.dataSource === this.db.dataSource,
    };
  }

  create(body: unknown): Promise<Product> {
    const product = ModelSerializer.fromDict(Product, body);
    return this.db.withSession((manager) => manager.save(product));
  }

  /**
   * An owner and their products in one session, written through the two injected repositories: inside
   * `withSession` they work in its transaction, so a product that fails (a taken sku: 409) leaves no owner and no
   * product behind.
   */
  createWithOwner(body: unknown): Promise<{ owner: User; products: Product[] }> {
    const { owner, products } = (body ?? {}) as { owner?: unknown; products?: unknown };
    const user = ModelSerializer.fromDict(User, owner);
    const items = (Array.isArray(products) ? products : []).map((item) => ModelSerializer.fromDict(Product, item));
    return this.db.withSession(async () => {
      const saved = await this.users.save(user);
      for (const item of items) {
        item.owner = saved;
        await this.products.save(item);
      }
      return { owner: saved, products: items };
    });
  }

  list(): Promise<Product[]> {
    return this.products.find({ order: { createdAt: "ASC" } });
  }

  async get(id: string, withDeleted = false): Promise<Product> {
    const product = await this.products.findOne({ where: { id }, withDeleted });
    if (!product) throw new NotFoundException(`no product ${id}`);
    return product;
  }

  async update(id: string, body: unknown): Promise<Product> {
    const product = await this.get(id);
    product.updateFromDict(body);
    return this.products.save(product);
  }

  async remove(id: string): Promise<void> {
    await this.products.softRemove(await this.get(id));
  }

  async restore(id: string): Promise<Product> {
    await this.products.recover(await this.get(id, true));
    return this.get(id);
  }
}
