import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");

/**
 * The example runs as its own process, as an app does: NestJS 12 is ESM-only, which Node 20 loads through
 * require() but jest's module system does not. The test talks to it over HTTP.
 */
export interface Example {
  readonly base: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly output: () => string;
}

export function startExample(url: string, env: Record<string, string> = {}): Promise<Example> {
  const child = spawn(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", join(ROOT, "examples", "nestjs", "main.ts")],
    { cwd: ROOT, env: { ...process.env, DATABASE_URL: url, PORT: "0", NEST_LOGGER: "off", ...env }, stdio: "pipe" },
  );
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = /\{"listening":"([^"]+)"\}/.exec(output);
      if (line) resolve({ base: line[1]!, child, exited, output: () => output });
    });
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => reject(new Error(`the example exited with ${code} before listening:\n${output}`)));
  });
}
