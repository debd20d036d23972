/**
 * Packages (`milpactl deploy POD PACKAGE FILE`): `POST .../pods/{name}/deploy/{package}` takes
 * a tarball as the raw request body, streamed to a file under the controller's package
 * directory while its size is counted (at most `maxBytes`) and its sha256 computed. The pod's
 * node's agent is then told (`package` message) and fetches the file itself from
 * `GET /agent/v1/packages/{podUid}/{package}` (agent_ws.ts) with its node token; only the node
 * the pod was bound to when it was uploaded may. The answer waits for the agent's verdict, and
 * the controller's copy is removed then: the package lives on in the pod's node, and goes with
 * the pod.
 */
import { createHash } from "node:crypto";
import { type Context, Hono } from "hono";
import type { AgentHub } from "../actors/agent_hub.ts";
import {
  BadRequestError,
  ConflictError,
  PayloadTooLargeError,
  UnavailableError,
} from "../model/errors.ts";
import type { Pod } from "../model/pod.ts";
import type { ObjectStore } from "../store/object_store.ts";

/** Largest package upload, in bytes, unless the controller is told otherwise. */
export const DEFAULT_MAX_PACKAGE_BYTES = 1024 * 1024 * 1024;

/** How long the controller waits for an agent to fetch and unpack a package. */
export const PACKAGE_AGENT_TIMEOUT_MS = 10 * 60_000;

/** The route of an upload, exactly (the API's 4 MiB body limit does not apply to it). */
export const PACKAGE_UPLOAD_ROUTE = /^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+\/deploy\/[^/]+$/;

/**
 * Whether a request is a package upload: `POST` on exactly the upload route. Only these skip
 * the API's 4 MiB body limit; the route streams under {@linkcode PackageStore.maxBytes}.
 */
export function isPackageUpload(c: Context): boolean {
  return c.req.method === "POST" && PACKAGE_UPLOAD_ROUTE.test(c.req.path);
}

/** One uploaded package, offered to the node its pod runs on. */
export interface PackageOffer {
  node: string;
  podUid: string;
  name: string;
  /** The file holding the tarball. */
  path: string;
  size: number;
  sha256: string;
}

/** Uploaded packages waiting for their node's agent, and the directory that holds them. */
export class PackageStore {
  #offers = new Map<string, PackageOffer>();

  private constructor(readonly dir: string, readonly maxBytes: number) {}

  /**
   * Opens the store in `dir` (0700), removing what an earlier run left there: nothing in it
   * outlives the request that uploaded it.
   */
  static async open(dir: string, maxBytes = DEFAULT_MAX_PACKAGE_BYTES): Promise<PackageStore> {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    return new PackageStore(dir, maxBytes);
  }

  /** The offer of package `name` of pod `podUid`, when `node` is the one it was made to. */
  find(node: string, podUid: string, name: string): PackageOffer | undefined {
    const offer = this.#offers.get(`${podUid}/${name}`);
    return offer?.node === node ? offer : undefined;
  }

  /** Makes an offer; a newer upload of the same package replaces an older one's offer. */
  offer(offer: PackageOffer): void {
    this.#offers.set(`${offer.podUid}/${offer.name}`, offer);
  }

  /** Withdraws an offer (if it is still the current one) and removes its file. */
  async withdraw(offer: PackageOffer): Promise<void> {
    const key = `${offer.podUid}/${offer.name}`;
    if (this.#offers.get(key) === offer) this.#offers.delete(key);
    await Deno.remove(offer.path).catch(() => {});
  }
}

/** What the upload route needs. */
export interface PackageRouteDeps {
  store: ObjectStore;
  hub: AgentHub;
  packages?: PackageStore;
}

/** The upload route. */
export function packageRoutes(deps: PackageRouteDeps): Hono {
  const app = new Hono();
  app.post("/api/v1/namespaces/:ns/pods/:name/deploy/:pkg", async (c) => {
    const packages = deps.packages;
    if (!packages) throw new UnavailableError("this controller does not take packages");
    const { ns, name, pkg } = c.req.param();
    const pod = await deps.store.mustGet<Pod>("pods", ns, name);
    const volumes = (pod.spec.volumes ?? []).filter((v) => v.packagePath).map((v) => v.name);
    if (!volumes.includes(pkg)) {
      throw new BadRequestError(
        `pod "${name}" has no packagePath volume named "${pkg}" (a package deploys into the ` +
          `volume of its name); its packagePath volumes: ${
            volumes.length ? volumes.map((v) => `"${v}"`).join(", ") : "none"
          }`,
      );
    }
    const node = pod.status?.boundNodeName;
    const phase = pod.status?.phase ?? "Waiting";
    if (phase !== "Running" || !node) {
      throw new ConflictError(
        `pod "${name}" is ${phase}, not Running: a package can be deployed once its node runs it`,
      );
    }
    if (!deps.hub.isConnected(node)) {
      throw new ConflictError(
        `the node of pod "${name}" (${node}) is not connected; retry shortly`,
      );
    }
    const uid = pod.metadata.uid!;
    const received = await receive(c, packages, `${uid}.${pkg}`);
    const offer: PackageOffer = { node, podUid: uid, name: pkg, ...received };
    packages.offer(offer);
    try {
      await deps.hub.deployPackage(
        node,
        { podUid: uid, name: pkg, sha256: offer.sha256, size: offer.size },
        PACKAGE_AGENT_TIMEOUT_MS,
      );
    } finally {
      await packages.withdraw(offer);
    }
    return c.json({
      kind: "Package",
      namespace: ns,
      pod: name,
      name: pkg,
      size: offer.size,
      sha256: offer.sha256,
    }, 201);
  });
  return app;
}

/**
 * Streams the request body into a new file of the store, counting and hashing it; refuses a
 * body over the store's limit (before reading when its Content-Length says so) or an empty one.
 */
async function receive(
  c: Context,
  packages: PackageStore,
  stem: string,
): Promise<{ path: string; size: number; sha256: string }> {
  const max = packages.maxBytes;
  const tooBig = () =>
    new PayloadTooLargeError(`a package may have at most ${max} bytes (${max / 2 ** 20} MiB)`);
  const declared = c.req.header("Content-Length");
  if (declared !== undefined && Number(declared) > max) throw tooBig();
  const body = c.req.raw.body;
  if (!body) throw new BadRequestError("the request has no body: send the package's tarball");
  const path = `${packages.dir}/${stem}.${crypto.randomUUID().slice(0, 8)}`;
  const hash = createHash("sha256");
  let size = 0;
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > max) throw tooBig();
      hash.update(chunk);
      for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
    }
    if (size === 0) throw new BadRequestError("the package is empty: send a .tar.gz or .tar");
  } catch (err) {
    file.close();
    await Deno.remove(path).catch(() => {});
    throw err;
  }
  file.close();
  return { path, size, sha256: hash.digest("hex") };
}
