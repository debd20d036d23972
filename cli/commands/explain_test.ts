import assert from "node:assert/strict";
import { z } from "zod";
import { manifestSchema } from "../../model/validation.ts";
import { EXIT } from "../errors.ts";
import { run } from "../program.ts";
import { contextFor, FakeApi } from "./fake_api.ts";
import { typeName, wrap } from "./explain_schema.ts";

async function explain(...args: string[]) {
  const api = new FakeApi();
  const { ctx, stdout, stderr } = contextFor(api);
  const code = await run(["explain", ...args], ctx);
  assert.equal(api.requests.length, 0, "explain needs no controller");
  return { code, stdout: stdout.text, stderr: stderr.text };
}

Deno.test("milpactl explain KIND prints KIND, VERSION, the schema's description and its fields", async () => {
  const r = await explain("pods");
  assert.equal(r.code, 0);
  assert.ok(r.stdout.startsWith("KIND:       Pod\nVERSION:    v1\n\nDESCRIPTION:\n    A pod: "));
  assert.match(r.stdout, /\nFIELDS:\n {2}apiVersion\t<string> -required-\n {2}enum: v1\n/);
  assert.match(r.stdout, /\n {2}spec\t<Object> -required-\n {4}The pod's desired state: /);
  assert.match(r.stdout, /\n {2}status\t<Object>\n/);
});

Deno.test("milpactl explain KIND.field walks into fields and lists, with types and enums", async () => {
  const units = await explain("pod.spec.units");
  assert.equal(units.code, 0);
  assert.match(
    units.stdout,
    /\nFIELD: units <\[\]Object>\n\nDESCRIPTION:\n {4}The pod's processes/,
  );
  assert.match(units.stdout, /\n {2}command\t<\[\]string>\n {4}Replaces the image's ENTRYPOINT/);
  assert.match(units.stdout, /\n {2}name\t<string> -required-\n/);
  const policy = await explain("po.spec.restartPolicy");
  assert.match(
    policy.stdout,
    /\nFIELD: restartPolicy <string>\nENUM:\n {4}Always\n {4}OnFailure\n/,
  );
  const ports = await explain("svc.spec.ports.portRangeSize");
  assert.match(
    ports.stdout,
    /\nFIELD: portRangeSize <integer>\n\nDESCRIPTION:\n {4}Opens this many/,
  );
  assert.doesNotMatch(ports.stdout, /FIELDS:/);
  const labels = await explain("deploy.spec.template.metadata.labels");
  assert.match(labels.stdout, /\nFIELD: labels <map\[string\]string>\n/);
});

Deno.test("milpactl explain --recursive prints the field tree", async () => {
  const r = await explain("deployment.spec.strategy", "--recursive");
  assert.equal(r.code, 0);
  assert.match(
    r.stdout,
    /\nFIELDS:\n {2}rollingUpdate\t<Object>\n {4}maxSurge\t<number \| string>\n {4}maxUnavailable\t<number \| string>\n {2}type\t<string>\n$/,
  );
});

Deno.test("milpactl explain of a field that does not exist names it, suggests, exits 1", async () => {
  const typo = await explain("svc.spec.prots");
  assert.equal(typo.code, EXIT.api);
  assert.equal(typo.stdout, "");
  assert.equal(
    typo.stderr,
    'Error: field "prots" does not exist in service.spec; did you mean "ports"?\n' +
      "  fields of service.spec: type, selector, ports, sourceRanges\n",
  );
  const kubernetes = await explain("pod.spec.containers");
  assert.match(
    kubernetes.stderr,
    /^Error: field "containers" does not exist in pod\.spec; did you mean "units"\?/,
  );
  const leaf = await explain("pod.metadata.name.first");
  assert.equal(leaf.code, EXIT.api);
  assert.match(leaf.stderr, /\n {2}pod\.metadata\.name is a <string> and has no fields\n$/);
  const kind = await explain("pdo.spec");
  assert.equal(kind.code, EXIT.api);
  assert.match(
    kind.stderr,
    /^Error: the server doesn't have a resource type "pdo"; did you mean "pod"/,
  );
});

Deno.test("milpactl explain refuses kinds Milpa writes alone and malformed paths, exit 2", async () => {
  const nodes = await explain("nodes");
  assert.equal(nodes.code, EXIT.usage);
  assert.match(nodes.stderr, /^Error: nodes are written by Milpa only/);
  const bad = await explain("pod..spec");
  assert.equal(bad.code, EXIT.usage);
  assert.match(bad.stderr, /^Error: "pod\.\.spec" is not KIND\[\.field\.\.\.\]/);
});

Deno.test("the schemas of the kinds users write describe themselves and each top-level and spec field", () => {
  for (const kind of ["Pod", "Service", "Deployment", "ReplicaSet", "Secret"]) {
    const schema = z.toJSONSchema(manifestSchema(kind)!, { io: "input", unrepresentable: "any" });
    const missing: string[] = [];
    const check = (path: string, s: { description?: string; properties?: object }) => {
      for (const [name, field] of Object.entries(s.properties ?? {})) {
        if (!(field as { description?: string }).description) missing.push(`${path}.${name}`);
      }
    };
    assert.ok(schema.description, kind);
    check(kind, schema as never);
    const spec = (schema.properties as Record<string, { properties?: object }>).spec;
    if (spec) check(`${kind}.spec`, spec as never);
    assert.deepEqual(missing, [], `fields without a description in ${kind}`);
  }
});

Deno.test("typeName() names lists, maps and unions as kubectl explain does", () => {
  assert.equal(typeName({ type: "array", items: { type: "string" } }), "[]string");
  assert.equal(
    typeName({ type: "object", additionalProperties: { type: "string" } }),
    "map[string]string",
  );
  assert.equal(typeName({ type: ["string", "number"] }), "string | number");
  assert.equal(
    typeName({ type: "array", items: { anyOf: [{ type: "string" }, { type: "object" }] } }),
    "[](string | Object)",
  );
  assert.equal(typeName({}), "Object");
});

Deno.test("wrap() wraps words at 80 columns with an indent", () => {
  const text = wrap("word ".repeat(30), 4);
  assert.ok(text.split("\n").slice(0, -1).every((l) => l.length <= 80 && l.startsWith("    ")));
  assert.equal(text.split(/\s+/).filter(Boolean).length, 30);
});
