import assert from "node:assert/strict";
import { ValidationError } from "../model/errors.ts";
import { checkAgentConfig, DEFAULT_DATA_DIR, loadAgentConfig } from "./config.ts";

Deno.test("checkAgentConfig() fills the default dataDir", () => {
  const config = checkAgentConfig({
    controllerURL: "http://127.0.0.1:1",
    nodeName: "n",
    token: "t",
  });
  assert.equal(config.dataDir, DEFAULT_DATA_DIR);
});

Deno.test("checkAgentConfig() reports every bad field at once", () => {
  assert.throws(
    () => checkAgentConfig({ controllerURL: "ftp://x", token: 5, podIP: "" }),
    (err) =>
      err instanceof ValidationError &&
      err.fields.map((f) => f.field).join(",") === "nodeName,token,controllerURL,podIP" &&
      err.message.startsWith("Invalid agent config: nodeName is required; token must be"),
  );
  assert.throws(() => checkAgentConfig([]), /must be a JSON object/);
});

Deno.test("loadAgentConfig() names the file it cannot read or parse", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      loadAgentConfig(`${dir}/missing.json`),
      /Cannot read agent config ".*missing.json": no such file/,
    );
    await Deno.writeTextFile(`${dir}/bad.json`, "{");
    await assert.rejects(loadAgentConfig(`${dir}/bad.json`), /Cannot parse agent config/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkAgentConfig() defaults runtime to auto and checks runtime options", () => {
  const base = { controllerURL: "http://127.0.0.1:1", nodeName: "n", token: "t" };
  assert.equal(checkAgentConfig(base).runtime, "auto");
  const config = checkAgentConfig({ ...base, runtime: "oci", insecureRegistries: ["r:5000"] });
  assert.equal(config.runtime, "oci");
  assert.deepEqual(config.insecureRegistries, ["r:5000"]);
  assert.throws(
    () => checkAgentConfig({ ...base, runtime: "docker", insecureRegistries: "r" }),
    (err) =>
      err instanceof ValidationError &&
      err.fields.map((f) => f.field).join(",") === "runtime,insecureRegistries",
  );
});

Deno.test("checkAgentConfig() accepts an http registryProxy and refuses anything else", () => {
  const base = { controllerURL: "http://127.0.0.1:1", nodeName: "n", token: "t" };
  const proxy = "http://198.18.0.1:41234";
  assert.equal(checkAgentConfig({ ...base, registryProxy: proxy }).registryProxy, proxy);
  assert.equal(checkAgentConfig(base).registryProxy, undefined);
  for (
    const [bad, message] of [
      ["https://198.18.0.1:41234", "must be an http URL"],
      ["198.18.0.1:41234", "must be an http URL"],
      ["", "must be a non-empty string when given"],
      [41234, "must be a non-empty string when given"],
    ] as const
  ) {
    assert.throws(
      () => checkAgentConfig({ ...base, registryProxy: bad }),
      (err) =>
        err instanceof ValidationError &&
        err.fields.length === 1 && err.fields[0].field === "registryProxy" &&
        err.fields[0].message === message,
      `registryProxy ${JSON.stringify(bad)}`,
    );
  }
});
