import assert from "node:assert/strict";
import {
  CONTAINER_PATH,
  containerEnv,
  imageEnv,
  resolveUser,
  unitArgv,
  unitWorkingDir,
} from "./image_config.ts";

const config = {
  config: { Entrypoint: ["/entry", "-x"], Cmd: ["serve"], Env: ["A=1", "PATH=/img/bin"] },
};

Deno.test("unitArgv() follows Kubernetes command/args over Entrypoint/Cmd", () => {
  assert.deepEqual(unitArgv(config, {}, "i"), ["/entry", "-x", "serve"]);
  assert.deepEqual(unitArgv(config, { args: ["run"] }, "i"), ["/entry", "-x", "run"]);
  assert.deepEqual(unitArgv(config, { command: ["/bin/sh"] }, "i"), ["/bin/sh"]);
  assert.deepEqual(unitArgv(config, { command: ["/bin/sh"], args: ["-c", "x"] }, "i"), [
    "/bin/sh",
    "-c",
    "x",
  ]);
  assert.deepEqual(unitArgv({ config: { Cmd: ["only"] } }, {}, "i"), ["only"]);
  assert.throws(() => unitArgv({}, {}, "img:1"), /image "img:1" has no Entrypoint or Cmd/);
});

Deno.test("unitWorkingDir() prefers the unit's, then the image's, then /", () => {
  assert.equal(unitWorkingDir({ config: { WorkingDir: "/app" } }, { workingDir: "/w" }), "/w");
  assert.equal(unitWorkingDir({ config: { WorkingDir: "/app" } }, {}), "/app");
  assert.equal(unitWorkingDir({}, {}), "/");
});

Deno.test("containerEnv() lays the pod's env over the image's over the defaults", () => {
  const env = containerEnv(imageEnv(config), { A: "pod", HOSTNAME: "web" }, "/root");
  assert.deepEqual(env, { PATH: "/img/bin", HOME: "/root", A: "pod", HOSTNAME: "web" });
  assert.equal(containerEnv({}, {}, "/").PATH, CONTAINER_PATH);
});

Deno.test("resolveUser() reads the image's passwd and group files", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/etc`);
    await Deno.writeTextFile(
      `${root}/etc/passwd`,
      "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34:www:/var/www:/bin/false\n",
    );
    await Deno.writeTextFile(`${root}/etc/group`, "root:x:0:\nstaff:x:50:\n");
    assert.deepEqual(await resolveUser(root, ""), { uid: 0, gid: 0, home: "/root" });
    assert.deepEqual(await resolveUser(root, "www"), { uid: 33, gid: 34, home: "/var/www" });
    assert.deepEqual(await resolveUser(root, "33:staff"), { uid: 33, gid: 50, home: "/var/www" });
    assert.deepEqual(await resolveUser(root, "1000:1000"), { uid: 1000, gid: 1000, home: "/" });
    await assert.rejects(resolveUser(root, "nobody"), /user "nobody" is not in the image's/);
    await assert.rejects(resolveUser(root, "www:nogroup"), /group "nogroup"/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
