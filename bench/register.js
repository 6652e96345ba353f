/**
 * The benchmark's TypeScript loader (`node -r ./bench/register.js bench/run.ts`): each file transpiled as ts-node's
 * `--transpile-only` does (TypeScript's `transpileModule` with tsconfig.json's options), the output kept in the
 * temporary folder under a hash of the compiler's version, tsconfig.json and the file's text. A run starts 20 or so
 * processes (one per dialect and part, five for each dialect's serializer); each spent about 2 s of this machine's
 * time transpiling the library again before its first measurement. With the cache only the first does, and
 * TypeScript is not even loaded by the others.
 */
"use strict";
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS loader, run by Node before any TypeScript */
const { createHash } = require("node:crypto");
const { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } = require("node:fs");
const { tmpdir } = require("node:os");
const { dirname, join } = require("node:path");

const root = dirname(__dirname);
const configText = readFileSync(join(root, "tsconfig.json"), "utf8");
const folder = join(tmpdir(), "inference-bench-ts");
mkdirSync(folder, { recursive: true });
/** TypeScript's version, read from its package.json without loading the compiler. */
const compilerVersion = JSON.parse(readFileSync(require.resolve("typescript/package.json"), "utf8")).version;

let compilerOptions;
/** The compiler and tsconfig.json's options, loaded on the first file not in the cache. */
function compiler() {
  const ts = require("typescript");
  if (!compilerOptions) {
    const parsed = ts.parseJsonConfigFileContent(
      ts.parseConfigFileTextToJson("tsconfig.json", configText).config,
      ts.sys,
      root,
    );
    compilerOptions = { ...parsed.options, sourceMap: false, inlineSourceMap: false, declaration: false };
  }
  return { ts, compilerOptions };
}

require.extensions[".ts"] = (module, filename) => {
  const text = readFileSync(filename, "utf8");
  const key = createHash("sha256")
    .update(compilerVersion)
    .update("\0")
    .update(configText)
    .update("\0")
    .update(filename)
    .update("\0")
    .update(text)
    .digest("hex");
  const cached = join(folder, `${key}.js`);
  let code;
  if (existsSync(cached)) code = readFileSync(cached, "utf8");
  else {
    const { ts, compilerOptions: options } = compiler();
    code = ts.transpileModule(text, { compilerOptions: options, fileName: filename }).outputText;
    // written whole under another name first: a process started beside this one never reads half a file
    const partial = `${cached}.${process.pid}`;
    writeFileSync(partial, code);
    renameSync(partial, cached);
  }
  module._compile(code, filename);
};
