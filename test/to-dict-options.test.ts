// toDict compiles a plan per class and options and keeps it for the process: every option that changes the output
// must be part of that cache's key. Each option is rendered in a fresh module registry (a fresh process as far as
// the library's caches go) and compared with what the same process answers after a plain call, and the plain call
// after it with a fresh plain one.

type Fixture = typeof import("./fixtures/to-dict-options");

function fresh(): Fixture {
  let fixture: Fixture | undefined;
  jest.isolateModules(() => {
    fixture = jest.requireActual<Fixture>("./fixtures/to-dict-options");
  });
  return fixture!;
}

const NAMES = Object.keys(fresh().OPTIONS);

describe("toDict's plan cache keeps every option apart", () => {
  it.each(NAMES)("%s: the same output first, after a plain call, and it leaves later plain calls alone", (name) => {
    const alone = fresh().render(name);
    const plainAlone = fresh().render(undefined);
    expect(alone).not.toEqual(plainAlone); // the option changes the output, so a mixed-up cache would show

    const warm = fresh();
    expect(warm.render(undefined)).toEqual(plainAlone);
    expect(warm.render(name)).toEqual(alone);
    expect(warm.render(undefined)).toEqual(plainAlone);

    const optionFirst = fresh();
    expect(optionFirst.render(name)).toEqual(alone);
    expect(optionFirst.render(undefined)).toEqual(plainAlone);
  });

  it("every option is also kept apart from every other one", () => {
    const expected = new Map(NAMES.map((name) => [name, fresh().render(name)]));
    const shared = fresh();
    for (const name of [...NAMES, ...[...NAMES].reverse()]) expect(shared.render(name)).toEqual(expected.get(name));
  });
});
