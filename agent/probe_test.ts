import assert from "node:assert/strict";
import type { Probe } from "../model/pod.ts";
import { PROBE_DEFAULTS, probeCheck, probeKey, probeProblems, probeTiming } from "./probe.ts";

const target = { host: "10.0.0.5", env: { PATH: "/bin" }, cwd: "/srv" };

Deno.test("probeTiming() fills in Kubernetes' defaults", () => {
  assert.deepEqual(PROBE_DEFAULTS, {
    initialDelaySeconds: 0,
    periodSeconds: 10,
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.deepEqual(probeTiming({ tcpSocket: { port: 80 } }), PROBE_DEFAULTS);
  assert.deepEqual(
    probeTiming({ tcpSocket: { port: 80 }, initialDelaySeconds: 5, failureThreshold: 1 }),
    { ...PROBE_DEFAULTS, initialDelaySeconds: 5, failureThreshold: 1 },
  );
});

Deno.test("probeCheck() resolves a probe against the run: pod IP, path, scheme, env, cwd", () => {
  assert.deepEqual(probeCheck("web", { httpGet: { port: 8080 } }, target), {
    unit: "web",
    type: "httpGet",
    scheme: "HTTP",
    host: "10.0.0.5",
    port: 8080,
    path: "/",
  });
  const https = probeCheck("web", {
    httpGet: { port: 443, path: "healthz?full=1", scheme: "HTTPS" },
  }, target);
  assert.ok(
    https.type === "httpGet" && https.path === "/healthz?full=1" && https.scheme === "HTTPS",
  );
  assert.deepEqual(probeCheck("db", { tcpSocket: { port: 5432 } }, target), {
    unit: "db",
    type: "tcpSocket",
    host: "10.0.0.5",
    port: 5432,
  });
  assert.deepEqual(probeCheck("db", { exec: { command: ["pg_isready"] } }, target), {
    unit: "db",
    type: "exec",
    command: ["pg_isready"],
    env: { PATH: "/bin" },
    cwd: "/srv",
  });
});

Deno.test("probeKey() equals for probes that probe alike", () => {
  const plain: Probe = { httpGet: { port: 80 } };
  const explicit: Probe = {
    httpGet: { port: 80, path: "/", scheme: "HTTP" },
    ...PROBE_DEFAULTS,
  };
  assert.equal(probeKey(plain), probeKey(explicit));
  assert.notEqual(probeKey(plain), probeKey({ ...plain, periodSeconds: 5 }));
  assert.notEqual(probeKey(plain), probeKey({ httpGet: { port: 81 } }));
  assert.notEqual(probeKey(plain), probeKey({ tcpSocket: { port: 80 } }));
  assert.equal(probeKey(undefined), "");
});

Deno.test("probeProblems() names every field the agent cannot use", () => {
  assert.deepEqual(probeProblems({ exec: { command: ["true"] }, initialDelaySeconds: 0 }), []);
  const fields = (probe: unknown) => probeProblems(probe as Probe).map((e) => [e.field, e.message]);
  assert.deepEqual(fields({ periodSeconds: 5 }), [
    ["", "needs exactly one of httpGet, tcpSocket or exec"],
  ]);
  assert.deepEqual(fields({ tcpSocket: { port: 1 }, exec: { command: ["x"] } }), [
    ["", "needs exactly one of httpGet, tcpSocket or exec"],
  ]);
  assert.deepEqual(
    fields({
      httpGet: { port: 0, path: 7, scheme: "FTP" },
      initialDelaySeconds: -1,
      periodSeconds: 0,
      timeoutSeconds: 1.5,
      successThreshold: "1",
    }),
    [
      ["httpGet.port", "must be a port number (1-65535)"],
      ["httpGet.path", "must be a string"],
      ["httpGet.scheme", 'must be "HTTP" or "HTTPS"'],
      ["initialDelaySeconds", "must be an integer of at least 0"],
      ["periodSeconds", "must be an integer of at least 1"],
      ["timeoutSeconds", "must be an integer of at least 1"],
      ["successThreshold", "must be an integer of at least 1"],
    ],
  );
  assert.deepEqual(fields({ tcpSocket: { port: 70000 } }), [
    ["tcpSocket.port", "must be a port number (1-65535)"],
  ]);
  assert.deepEqual(fields({ exec: { command: [] } }), [
    ["exec.command", "must be a non-empty list of strings"],
  ]);
  assert.deepEqual(fields(null), [["", "must be an object"]]);
});
