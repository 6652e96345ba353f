// Every test runs in a process time zone with a half-hour offset from UTC, so that an instant shifted by the
// process zone anywhere in the library shows up as a failure.
process.env.TZ = process.env.INFERENCE_TEST_TZ || "Asia/Kolkata";

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  globalSetup: "<rootDir>/test/support/global-setup.ts",
  setupFiles: ["reflect-metadata"],
  testTimeout: 60000,
};
