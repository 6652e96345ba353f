/** `npx ts-node examples/nestjs/main.ts`: the example API on PORT (default 3000), database from DATABASE_URL. */
import "reflect-metadata";
import { NestFactory } from "@nestjs/core";
import { AppModule } from "./app.module";

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule.forUrl(process.env["DATABASE_URL"] ?? "sqlite:./data/nest.db"));
  app.enableShutdownHooks();
  await app.listen(Number(process.env["PORT"] ?? 3000));
}

void bootstrap();
