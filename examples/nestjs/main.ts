/**
 * `npx ts-node examples/nestjs/main.ts`: the example API on PORT (default 3000; 0 picks a free port), database from
 * DATABASE_URL, read replicas from REPLICA_URLS (comma-separated; read-your-writes on). Prints `{"listening":"http://..."}` once it accepts requests; SIGTERM shuts it down cleanly.
 */
import "reflect-metadata";
import { NestFactory } from "@nestjs/core";
import { AppModule } from "./app.module";

async function bootstrap(): Promise<void> {
  const replicas = (process.env["REPLICA_URLS"] ?? "").split(",").filter(Boolean);
  const app = await NestFactory.create(
    AppModule.forUrl(process.env["DATABASE_URL"] ?? "sqlite:./data/nest.db", replicas),
    {
      // NEST_LOGGER: "off", or a comma-separated list of levels ("error,warn"); Nest's default otherwise
      logger:
        process.env["NEST_LOGGER"] === "off"
          ? false
          : process.env["NEST_LOGGER"]
            ? (process.env["NEST_LOGGER"].split(",") as ("error" | "warn" | "log")[])
            : undefined,
    },
  );
  // on SIGTERM the application closes (the DatabaseModule closes the manager: pool and health connection) and the
  // process ends by itself once nothing is left open
  process.once("SIGTERM", () => void app.close());
  await app.listen(Number(process.env["PORT"] ?? 3000), "127.0.0.1");
  console.log(JSON.stringify({ listening: (await app.getUrl()).replace("[::1]", "127.0.0.1") }));
}

void bootstrap();
