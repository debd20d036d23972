import assert from "node:assert/strict";
import type { DesiredPod } from "../model/agent_protocol.ts";
import { milpactlEnv, type MilpactlSource, provideMilpactl } from "./milpactl_volume.ts";

const pod: DesiredPod = {
  namespace: "ci",
  name: "buildbot",
  uid: "u1",
  spec: { units: [], volumes: [{ name: "mc", emptyDir: {} }] },
  env: { MILPA_TOKEN: "milpa_x" },
  milpactl: { volume: "mc" },
};
const source = (fetched: string[]): MilpactlSource => ({
  endpoint: "https://198.18.0.1:54555",
  caCertificate: "-----BEGIN CERTIFICATE-----\n",
  fetchBundle: () => {
    fetched.push("milpactl.js");
    return Promise.resolve(`console.log("milpactl", ...Deno.args);`);
  },
});

Deno.test("provideMilpactl() writes milpactl.js once, a wrapper that runs it with Deno, and ca.crt", async () => {
  const dir = await Deno.makeTempDir({ prefix: "milpa-mc-" });
  try {
    const fetched: string[] = [];
    await provideMilpactl(dir, source(fetched));
    await provideMilpactl(dir, source(fetched));
    assert.deepEqual(fetched, ["milpactl.js"], "fetched once per pod");
    assert.equal(await Deno.readTextFile(`${dir}/ca.crt`), "-----BEGIN CERTIFICATE-----\n");
    assert.equal((await Deno.stat(`${dir}/milpactl`)).mode! & 0o777, 0o755);
    const out = await new Deno.Command(`${dir}/milpactl`, { args: ["get", "pods"] }).output();
    assert.equal(new TextDecoder().decode(out.stdout), "milpactl get pods\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("milpactlEnv() points host units at the volume's directory and mounting units at their mountPath", () => {
  const s = source([]);
  assert.deepEqual(
    milpactlEnv(pod, { name: "host", command: ["x"] }, "/data/pods/u1/volumes/mc", s),
    {
      MILPA_ENDPOINT: "https://198.18.0.1:54555",
      MILPACTL: "/data/pods/u1/volumes/mc/milpactl",
      MILPA_CA_FILE: "/data/pods/u1/volumes/mc/ca.crt",
    },
  );
  const mounting = {
    name: "img",
    image: "x",
    volumeMounts: [{ name: "mc", mountPath: "/milpa/" }],
  };
  assert.equal(milpactlEnv(pod, mounting, "/d", s).MILPA_CA_FILE, "/milpa/ca.crt");
  assert.deepEqual(milpactlEnv({ ...pod, milpactl: undefined }, mounting, "/d", s), {});
  assert.equal(
    milpactlEnv(pod, mounting, "/d", { ...s, caCertificate: undefined }).MILPA_CA_FILE,
    undefined,
  );
});
