/**
 * Which node answered: on the local cloud as root every node has a UTS namespace of its own,
 * named after its address as EC2 names instances (`ip-10-251-3-2`), so a host-process unit's
 * `hostname`, `uname -n`, `Deno.hostname()` and `$HOSTNAME` name its node; the node and its pod
 * list that name as their PrivateDNS address. Without root nodes share the host's name.
 */
import assert from "node:assert/strict";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import { LocalCloud } from "./support/local_cloud.ts";

/** A pod whose unit prints every way a program learns its hostname, then waits. */
const NAMES_POD = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "names" },
  spec: {
    units: [{
      name: "names",
      command: ["sh", "-c"],
      args: [
        'echo "names: $(hostname) $(uname -n) $HOSTNAME ' +
        '$(deno eval --no-config "console.log(Deno.hostname())")"; exec sleep 600',
      ],
    }],
  },
};

Deno.test("a host-process unit's hostname names its node: ip-<address> as root, else the host's", async () => {
  const host = Deno.hostname();
  const cloud = await LocalCloud.start();
  try {
    const file = `${cloud.home}/names.json`;
    await Deno.writeTextFile(file, JSON.stringify(NAMES_POD));
    await cloud.ok("create", "-f", file);
    const line = await cloud.eventually(
      async () => (await cloud.ok("logs", "names")).match(/^names: .*$/m)?.[0],
      "the unit's names",
    );
    const pod = await cloud.getJson<Pod>("pod", "names");
    const ip = pod.status!.addresses!.find((a) => a.type === "PrivateIP")!.address;
    const node = await cloud.getJson<Node>("node", pod.status!.boundNodeName!);
    if (cloud.netns) {
      const name = `ip-${ip.replaceAll(".", "-")}`;
      assert.equal(line, `names: ${name} ${name} ${name} ${name}`);
      assert.equal((await cloud.ok("exec", "names", "--", "hostname")).trim(), name);
      const dns = (addresses?: { type: string; address: string }[]) =>
        addresses?.filter((a) => a.type === "PrivateDNS").map((a) => a.address);
      assert.deepEqual(dns(node.status?.addresses), [name]);
      assert.deepEqual(dns(pod.status?.addresses), [name]);
    } else {
      // No namespaces: the node is this machine, name and all.
      assert.equal(line, `names: ${host} ${host} ${host} ${host}`);
    }
    assert.equal(Deno.hostname(), host, "the host's hostname is unchanged");
  } finally {
    await cloud.close();
  }
  assert.equal(Deno.hostname(), host);
});
