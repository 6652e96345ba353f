/**
 * The example application models of the design (`User`, `Product`; tables `users` and `products`), as their own
 * entry point `@inference-core/database/models`, so that an application's own `User` never competes with them.
 *
 * @packageDocumentation
 */
export { User } from "./user";
export { Product } from "./product";
