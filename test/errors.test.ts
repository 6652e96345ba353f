import * as library from "../src";
import { DatabaseError } from "../src";

// The error classes themselves: no database involved.
describe("errors", () => {
  const classes = [
    "InvalidJsonValueError",
    "InvalidStoredJsonError",
    "ValueTooLongError",
    "InvalidValueError",
    "ConfigurationError",
    "UnsafeResetError",
    "NotInitializedError",
    "DatabaseOperationError",
  ] as const;

  it.each(classes)("%s is exported, extends DatabaseError and names itself", (name) => {
    const ErrorClass = library[name] as unknown as new (message: string, ...rest: unknown[]) => Error;
    const error = new ErrorClass("m", "Order", "p", "v", "x", "y");
    expect(error).toBeInstanceOf(DatabaseError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
  });

  it("DatabaseOperationError keeps the driver's error as cause", () => {
    const cause = new Error("connection refused");
    const error = library.DatabaseOperationError.wrap("Connecting", cause);
    expect(error.cause).toBe(cause);
    expect(error.message).toBe("Connecting failed: connection refused");
  });

  it("long values are shortened in messages", () => {
    const error = library.ValueTooLongError.forColumn("Order", "metadata.tags", "x".repeat(600), 500, 600);
    expect(error.message).toContain("(600 characters)");
    expect(error.message.length).toBeLessThan(300);
    expect(error.value).toHaveLength(600);
  });
});
