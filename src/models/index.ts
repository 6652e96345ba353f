export { User } from "./user";
export { Product } from "./product";
