import assert from "node:assert/strict";
import {
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  dns952LabelProblem,
  envVarNameProblem,
  labelKeyProblem,
  labelValueProblem,
  mountPathProblem,
} from "./formats.ts";

const ok = (problem: (s: string) => string | undefined, s: string) =>
  assert.equal(problem(s), undefined, s);
const bad = (problem: (s: string) => string | undefined, s: string) =>
  assert.equal(typeof problem(s), "string", s);

Deno.test("dns1123LabelProblem() accepts lowercase alnum and '-' up to 63 characters", () => {
  for (const s of ["web", "helloserver", "init-replicaset", "a", "0", "a".repeat(63)]) {
    ok(dns1123LabelProblem, s);
  }
  for (const s of ["", "Web", "-web", "web-", "web.v1", "web_1", "a".repeat(64)]) {
    bad(dns1123LabelProblem, s);
  }
});

Deno.test("dns1123SubdomainProblem() accepts dotted labels up to 253 characters", () => {
  for (const s of ["web", "web.v1", "nginx-deployment-1533682416739-zwrt4", "a.b.c"]) {
    ok(dns1123SubdomainProblem, s);
  }
  for (
    const s of ["", "Web", "web.", ".web", "a..b", "web_1", `${"a".repeat(63)}.`.repeat(4) + "a"]
  ) {
    bad(dns1123SubdomainProblem, s);
  }
});

Deno.test("dns952LabelProblem() wants a leading letter", () => {
  for (const s of ["helloworld-svc", "rocketchat", "a1"]) ok(dns952LabelProblem, s);
  for (const s of ["1svc", "svc-", "svc.x", "Svc", "", "a".repeat(64)]) bad(dns952LabelProblem, s);
});

Deno.test("labelKeyProblem() accepts [prefix/]name keys", () => {
  for (
    const s of [
      "app",
      "App_Name.v1",
      "service.elotl.co/aws-load-balancer-healthcheck-timeout",
      "a".repeat(63),
    ]
  ) {
    ok(labelKeyProblem, s);
  }
  for (const s of ["", "/app", "Example.com/app", "a/b/c", "-app", "app-", "a b", "a".repeat(64)]) {
    bad(labelKeyProblem, s);
  }
  assert.match(labelKeyProblem("Bad.Prefix/x") ?? "", /prefix before '\/'/);
});

Deno.test("labelValueProblem() accepts empty and qualified values up to 63 characters", () => {
  for (const s of ["", "helloworld", "v1.2_3-a", "A"]) ok(labelValueProblem, s);
  for (const s of ["-x", "x-", "a b", "a/b", "a".repeat(64)]) bad(labelValueProblem, s);
});

Deno.test("envVarNameProblem() accepts C-like names with '-' and '.'", () => {
  for (const s of ["MY_MILPA_VAR", "_x", "a.b-c", "-x", ".x"]) ok(envVarNameProblem, s);
  for (const s of ["", "1X", "A B", "A=B", "A$"]) bad(envVarNameProblem, s);
});

Deno.test("mountPathProblem() wants an absolute path without ':'", () => {
  ok(mountPathProblem, "/var/jenkins_home");
  assert.equal(mountPathProblem("data"), "must be an absolute path");
  assert.equal(mountPathProblem("/a:b"), "must not contain ':'");
});
