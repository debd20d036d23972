import assert from "node:assert/strict";
import type { Deployment, ReplicaSet } from "../../model/deployment.ts";
import { podTemplateHash } from "../../model/workload.ts";
import { formatReplicaSets, replicaSetsOf, revisionOf, splitReplicaSets } from "./replica_sets.ts";

const template = { metadata: { labels: { app: "web" } }, spec: { units: [] } };
const deployment: Deployment = {
  kind: "Deployment",
  apiVersion: "v1",
  metadata: { name: "web", namespace: "default", uid: "uid-web" },
  spec: { replicas: 3, template },
};
const currentHash = podTemplateHash(template);

function rs(
  name: string,
  revision: number,
  opts: { owner?: string; hash?: string; replicas?: number; current?: number } = {},
): ReplicaSet {
  return {
    kind: "ReplicaSet",
    apiVersion: "v1",
    metadata: {
      name,
      namespace: "default",
      labels: { app: "web", "pod-template-hash": opts.hash ?? name },
      annotations: { "deployment.kubernetes.io/revision": String(revision) },
      ownerReferences: [{
        apiVersion: "v1",
        kind: "Deployment",
        name: "web",
        uid: opts.owner ?? "uid-web",
        controller: true,
      }],
    },
    spec: { replicas: opts.replicas ?? 0, template },
    status: { replicas: opts.current ?? opts.replicas ?? 0 },
  };
}

Deno.test("replicaSetsOf() keeps the ones the deployment controls, oldest revision first", () => {
  const sets = [
    rs("web-c", 10),
    rs("web-a", 2),
    rs("other-x", 1, { owner: "uid-other" }),
    rs("web-b", 9),
  ];
  assert.deepEqual(replicaSetsOf(deployment, sets).map((s) => s.metadata.name), [
    "web-a",
    "web-b",
    "web-c",
  ]);
  assert.equal(revisionOf(rs("web-z", 0)), 0);
});

Deno.test("splitReplicaSets() finds the new one by template hash and old ones that want pods", () => {
  const sets = [
    rs("web-1", 1, { replicas: 0 }),
    rs("web-2", 2, { replicas: 1, current: 2 }),
    rs("web-3", 3, { hash: currentHash, replicas: 3, current: 2 }),
  ];
  const { newRS, old } = splitReplicaSets(deployment, sets);
  assert.equal(newRS?.metadata.name, "web-3");
  assert.deepEqual(old.map((s) => s.metadata.name), ["web-2"]);
  assert.equal(formatReplicaSets(old), "web-2 (2/1 replicas created)");
  assert.equal(formatReplicaSets([newRS!]), "web-3 (2/3 replicas created)");
  assert.equal(formatReplicaSets([]), "<none>");
  assert.equal(splitReplicaSets(deployment, [rs("web-2", 2)]).newRS, undefined);
});
