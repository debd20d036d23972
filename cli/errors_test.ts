import assert from "node:assert/strict";
import type { Status } from "../model/api_types.ts";
import { BadRequestError, NotFoundError } from "../model/errors.ts";
import { BufferOutput } from "./context.ts";
import {
  ApiError,
  CommandErrors,
  ConfigError,
  exitCodeFor,
  formatError,
  ManifestError,
  reportError,
  RolloutError,
  TlsError,
  UnknownFieldError,
  UnknownKindError,
  UnreachableError,
  UsageError,
} from "./errors.ts";

const invalid: Status = {
  kind: "Status",
  code: 422,
  reason: "Invalid",
  message: 'Pod "web" is invalid: spec.resources.memory: invalid quantity "lots"; ' +
    "spec.units: at least one unit is required",
  details: {
    kind: "Pod",
    name: "web",
    index: 1,
    causes: [
      { field: "spec.resources.memory", message: 'invalid quantity "lots"', value: "lots" },
      { field: "spec.units", message: "at least one unit is required" },
    ],
  },
};

Deno.test("exitCodeFor() maps every error class through one table", () => {
  assert.equal(exitCodeFor(new ApiError(invalid)), 1);
  assert.equal(exitCodeFor(new RolloutError("x")), 1);
  assert.equal(exitCodeFor(new UsageError("x")), 2);
  assert.equal(exitCodeFor(new UnknownKindError("x")), 1);
  assert.equal(exitCodeFor(new UnknownFieldError("x")), 1);
  assert.equal(exitCodeFor(new ManifestError("x")), 2);
  assert.equal(exitCodeFor(new BadRequestError("x")), 2);
  assert.equal(exitCodeFor(new ConfigError("x")), 3);
  assert.equal(exitCodeFor(new UnreachableError("http://h:1")), 3);
  assert.equal(exitCodeFor(new TlsError("https://h:1", "cannot verify", "hint")), 3);
  assert.equal(exitCodeFor(new NotFoundError("x")), 1);
  assert.equal(exitCodeFor(new Error("bug")), 1);
  assert.equal(exitCodeFor(new CommandErrors([new UsageError("a"), new ApiError(invalid)])), 2);
});

Deno.test("formatError() prints the context, the message and each cause once, on its own line", () => {
  const err = new ApiError(invalid).withContext('app.yml: document 2 (Pod "web")');
  assert.equal(
    formatError(err),
    'Error: app.yml: document 2 (Pod "web"): Pod "web" is invalid:\n' +
      '  * spec.resources.memory: invalid quantity "lots"\n' +
      "  * spec.units: at least one unit is required\n",
  );
});

Deno.test("formatError() keeps a message that does not end with its causes whole", () => {
  const err = new ApiError({
    kind: "Status",
    code: 422,
    reason: "Invalid",
    message: 'Cannot create pod "web": memory "64Ti" fits no instance type',
    details: { causes: [{ field: "spec.resources", message: "fits no instance type" }] },
  });
  assert.equal(
    formatError(err),
    'Error: Cannot create pod "web": memory "64Ti" fits no instance type\n' +
      "  * spec.resources: fits no instance type\n",
  );
});

Deno.test("formatError() adds the hint, indented", () => {
  assert.equal(
    formatError(new UsageError("bad flag", "run 'milpactl get --help'")),
    "Error: bad flag\n  run 'milpactl get --help'\n",
  );
});

Deno.test("UnreachableError says how to start the controller", () => {
  assert.equal(
    new UnreachableError("http://127.0.0.1:54555").message,
    "cannot reach the Milpa controller at http://127.0.0.1:54555: is it running? " +
      "(start it with `deno task start`)",
  );
});

Deno.test("reportError() writes every error of a CommandErrors and returns the exit code", () => {
  const out = new BufferOutput();
  const notFound: Status = { kind: "Status", code: 404, reason: "NotFound", message: "x" };
  const code = reportError(
    new CommandErrors([
      new ApiError({ ...notFound, message: 'pods "a" not found' }),
      new ApiError({ ...notFound, message: 'pods "b" not found' }),
    ]),
    out,
  );
  assert.equal(code, 1);
  assert.equal(out.text, 'Error: pods "a" not found\nError: pods "b" not found\n');
});
