/**
 * Registries for the image end-to-end tests, on 127.0.0.1 (or a test network's own gateway): Debian's `docker-registry`
 * (distribution 2.8) started with a temporary storage directory and, for a private one, an
 * htpasswd file; or, where that package is missing, the agent's fake registry. Images built in
 * memory (agent/oci/testing.ts) are pushed with the registry API's monolithic uploads.
 */
import { FakeRegistry } from "../../agent/oci/fake_registry.ts";
import type { BuiltImage } from "../../agent/oci/testing.ts";
import { findTool } from "../../agent/container_support.ts";

/** A registry the tests push to and the agent pulls from. */
export interface TestRegistry {
  /** "<hostname>:<port>". */
  host: string;
  /** "docker-registry" or "fake". */
  kind: string;
  push(repository: string, tag: string, image: BuiltImage): Promise<void>;
  close(): Promise<void>;
}

/** Basic-auth credentials of a private registry. */
export interface TestCredentials {
  username: string;
  password: string;
}

/**
 * Starts Debian's docker-registry when installed (and, for a private one, htpasswd from
 * apache2-utils), else the fake registry.
 */
export function startRegistry(
  auth?: TestCredentials,
  hostname = "127.0.0.1",
): Promise<TestRegistry> {
  const real = findTool("docker-registry") && (!auth || findTool("htpasswd"));
  return real ? startDockerRegistry(hostname, auth) : startFake(hostname, auth);
}

async function startFake(hostname: string, auth?: TestCredentials): Promise<TestRegistry> {
  const reg = await FakeRegistry.start({ hostname, ...(auth ? { auth: "basic", ...auth } : {}) });
  return {
    host: reg.host,
    kind: "fake",
    push: (repo, tag, image) => Promise.resolve(reg.push(repo, tag, image)),
    close: () => reg.close(),
  };
}

function freePort(hostname: string): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function startDockerRegistry(
  hostname: string,
  auth?: TestCredentials,
): Promise<TestRegistry> {
  const dir = await Deno.makeTempDir({ prefix: "milpa-registry-" });
  const host = `${hostname}:${freePort(hostname)}`;
  let authConfig = "";
  if (auth) {
    const out = await new Deno.Command("htpasswd", {
      args: ["-Bbn", auth.username, auth.password],
      stdout: "piped",
    }).output();
    if (!out.success) throw new Error("htpasswd (apache2-utils) failed");
    await Deno.writeFile(`${dir}/htpasswd`, out.stdout);
    authConfig = `auth:\n  htpasswd:\n    realm: milpa-test\n    path: ${dir}/htpasswd\n`;
  }
  await Deno.writeTextFile(
    `${dir}/config.yml`,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n` +
      `storage:\n  filesystem:\n    rootdirectory: ${dir}/data\n` +
      `http:\n  addr: ${host}\n  secret: milpa-test\n${authConfig}`,
  );
  const child = new Deno.Command("docker-registry", {
    args: ["serve", `${dir}/config.yml`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const close = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  };
  const authHeader: Record<string, string> = auth
    ? { Authorization: `Basic ${btoa(`${auth.username}:${auth.password}`)}` }
    : {};
  try {
    await waitUp(`http://${host}/v2/`);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    host,
    kind: "docker-registry",
    close,
    push: (repo, tag, image) => push(`http://${host}`, repo, tag, image, authHeader),
  };
}

async function waitUp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`registry at ${url} did not come up`);
}

async function push(
  base: string,
  repo: string,
  tag: string,
  image: BuiltImage,
  auth: Record<string, string>,
): Promise<void> {
  for (const [digest, bytes] of image.blobs) {
    const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, {
      method: "POST",
      headers: auth,
    });
    await start.body?.cancel();
    if (start.status !== 202) throw new Error(`upload of ${digest}: ${start.status}`);
    const location = new URL(start.headers.get("location")!, base);
    location.searchParams.set("digest", digest);
    const put = await fetch(location, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/octet-stream" },
      body: bytes as BodyInit,
    });
    await put.body?.cancel();
    if (put.status !== 201) throw new Error(`upload of ${digest}: ${put.status}`);
  }
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    headers: { ...auth, "content-type": "application/vnd.oci.image.manifest.v1+json" },
    body: image.manifest as BodyInit,
  });
  await res.body?.cancel();
  if (res.status !== 201) throw new Error(`manifest ${repo}:${tag}: ${res.status}`);
}
