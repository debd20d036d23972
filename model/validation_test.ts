import assert from "node:assert/strict";
import { parse, parseAllDocuments } from "yaml";
import { BadRequestError, ValidationError } from "./errors.ts";
import type { Pod } from "./pod.ts";
import { validateObject } from "./validation.ts";

/** The tutorials' manifests (milpa-tutorials.txt), as their YAML files would read. */
const TUTORIAL_MANIFESTS = `
apiVersion: v1
kind: Pod
metadata:
  name: helloworld
  labels:
    app: helloworld
spec:
  resources:
    memory: 0.4Gi
  units:
  - name: helloserver
    image: elotl/helloserver
---
apiVersion: v1
kind: Service
metadata:
  name: helloworld-svc
spec:
  selector:
    app: helloworld
  sourceRanges:
  - 0.0.0.0/0
  ports:
  - name: http
    protocol: TCP
    port: 8002
---
apiVersion: v1
kind: Deployment
metadata:
  name: backend-deployment
spec:
  replicas: 2
  maxSurge: 1
  maxUnavailable: 0
  template:
    metadata:
      labels:
        app: backend
    spec:
      instanceType: t3.nano
      units:
      - name: helloserver
        image: elotl/helloserver:latest
        command:
        - /helloserver
        env:
        - name: MY_MILPA_VAR
          value: variable_value_2
---
apiVersion: v1
kind: Service
metadata:
  name: backend-svc
spec:
  selector:
    app: backend
  sourceRanges: [VPC]
  ports:
  - name: hello
    protocol: TCP
    port: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: haproxy
  labels:
    app: haproxy
spec:
  instanceType: t3.nano
  units:
  - name: haproxy
    image: elotl/haproxylb:latest
    command: ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
    env:
    - name: MILPA_CLUSTER_NAME
      value: <FILL_IN>
---
apiVersion: v1
kind: Pod
metadata:
  name: mongo
  labels:
    app: mongo
spec:
  restartPolicy: OnFailure
  units:
  - name: mongo
    image: mongo:3.6
    command: [mongod, --replSet, rs0]
  - name: init-replicaset
    image: mongo:3.6
    command: [mongo, --eval, "rs.initiate()"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rocketchat
spec:
  replicas: 3
  template:
    metadata:
      labels:
        app: rocketchat
    spec:
      resources:
        cpu: 1
        memory: 3Gi
      units:
      - name: rocketchat
        image: rocketchat/rocket.chat:latest
        env:
        - name: MONGO_URL
          value: mongodb://mongo:27017/rocketchat
---
apiVersion: v1
kind: Service
metadata:
  name: rocketchat
  labels:
    svc: rocketchat
  annotations:
    service.elotl.co/aws-load-balancer-healthcheck-timeout: "2"
    service.elotl.co/aws-load-balancer-cross-zone-load-balancing-enabled: "true"
spec:
  type: LoadBalancer
  selector:
    matchLabels:
      app: rocketchat
  ports:
  - name: http
    protocol: TCP
    port: 80
    nodePort: 3000
---
apiVersion: v1
kind: Pod
metadata:
  name: jenkins-tutorial
  labels:
    app: jenkins
spec:
  initUnits:
  - name: fetch-config
    image: amazon/aws-cli
    command: [sh, -c, "aws s3 cp s3://bucket/jenkins.tgz - | tar -xz -C /var/jenkins_home"]
    volumeMounts:
    - name: jenkins-home
      mountPath: /var/jenkins_home
  units:
  - name: jenkins
    image: jenkins/jenkins:lts
    ports:
    - containerPort: 8080
    volumeMounts:
    - name: jenkins-home
      mountPath: /var/jenkins_home
  volumes:
  - name: jenkins-home
    emptyDir: {}
`;

/** Parses one YAML manifest and expects validateObject() to reject it; returns the error. */
function invalid(manifest: string): ValidationError {
  try {
    validateObject(parse(manifest));
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  assert.fail("expected a ValidationError");
}

function pod(spec: string, name = "web"): string {
  return `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n${spec}`;
}

Deno.test("validateObject() accepts every tutorial manifest", () => {
  const docs = parseAllDocuments(TUTORIAL_MANIFESTS);
  assert.equal(docs.length, 9);
  for (const doc of docs) {
    const raw = doc.toJS();
    assert.doesNotThrow(() => validateObject(raw), raw.metadata.name);
  }
});

Deno.test("validateObject() returns the object typed and unchanged, with no defaults", () => {
  const raw = parseAllDocuments(TUTORIAL_MANIFESTS)[0].toJS();
  const pod = validateObject(raw) as Pod;
  assert.deepEqual(pod, raw);
  assert.equal(pod.spec.resources?.memory, "0.4Gi");
  assert.equal(pod.spec.restartPolicy, undefined);
});

Deno.test("validateObject() keeps the tutorial deployment's top-level rollout fields", () => {
  const raw = parseAllDocuments(TUTORIAL_MANIFESTS)[2].toJS();
  const out = validateObject(raw);
  assert.equal(out.spec.maxSurge, 1);
  assert.equal(out.spec.maxUnavailable, 0);
});

Deno.test("validateObject() turns numeric quantities into strings and stores apps/v1 as v1", () => {
  const raw = parseAllDocuments(TUTORIAL_MANIFESTS)[6].toJS();
  const out = validateObject(raw);
  assert.equal(out.apiVersion, "v1");
  assert.deepEqual(out.spec.template.spec.resources, { cpu: "1", memory: "3Gi" });
});

Deno.test("validateObject() lists every bad field in one message", () => {
  const e = invalid(pod(`
  resources: {memory: lots}
  units:
  - {name: a, image: x}
  - {name: b}`));
  assert.equal(
    e.message,
    'Pod "web" is invalid: spec.resources.memory: invalid quantity "lots"; ' +
      "spec.units[1]: a unit needs an image or a command",
  );
  assert.deepEqual(e.fields, [
    { field: "spec.resources.memory", message: 'invalid quantity "lots"', value: "lots" },
    { field: "spec.units[1]", message: "a unit needs an image or a command" },
  ]);
});

Deno.test("validateObject() names unknown fields, with a hint for containers", () => {
  const e = invalid(pod(`
  containers: [{name: a, image: x}]
  initContainers: []
  replicas: 3`));
  assert.deepEqual(e.fields.map((f) => [f.field, f.message]), [
    ["spec.containers", 'unknown field; Milpa pods have "units", not "containers"'],
    ["spec.initContainers", 'unknown field; Milpa pods have "initUnits", not "initContainers"'],
    ["spec.replicas", "unknown field"],
  ]);
  assert.deepEqual(e.fields[0].value, [{ name: "a", image: "x" }]);
});

Deno.test("validateObject() rejects duplicate unit names", () => {
  const e = invalid(pod(`
  initUnits: [{name: app, image: x}]
  units: [{name: app, image: x}]`));
  assert.deepEqual(e.fields.map((f) => [f.field, f.message]), [
    ["spec.units[0].name", 'duplicate unit name "app"'],
  ]);
});

Deno.test("validateObject() rejects a service named milpa and TCP port 6421", () => {
  const e = invalid(`
apiVersion: v1
kind: Service
metadata: {name: milpa}
spec:
  ports: [{port: 6421}]`);
  assert.deepEqual(e.fields.map((f) => [f.field, f.message]), [
    ["metadata.name", 'the name "milpa" is reserved for Milpa itself'],
    ["spec.ports[0].port", "TCP port 6421 is used by Milpa"],
  ]);
});

Deno.test("validateObject() checks names by kind", () => {
  const long = "a".repeat(64);
  assert.doesNotThrow(() => validateObject(parse(pod("  units: []", "web.v1"))));
  assert.match(
    invalid(pod("  units: []", "Web")).message,
    /metadata\.name: must be a DNS-1123 subdomain/,
  );
  const svc = (name: string) =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: "${name}"}\nspec: {ports: [{port: 80}]}`;
  for (const bad of ["1web", "web.v1", long, "web-"]) {
    assert.match(invalid(svc(bad)).message, /metadata\.name: must be a DNS-952 label/, bad);
  }
  assert.match(invalid(pod("  units: []", '""')).message, /metadata\.name: must be a DNS-1123/);
  assert.match(
    invalid("apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {}").message,
    /metadata\.name: required/,
  );
});

Deno.test("validateObject() checks apiVersion per kind", () => {
  assert.match(
    invalid(pod("  units: []").replace("v1", "apps/v1")).message,
    /apiVersion: must be "v1"/,
  );
  const e = invalid(
    "kind: Deployment\nmetadata: {name: d}\nspec: {template: {metadata: {labels: {a: b}}, spec: {}}}",
  );
  assert.deepEqual(e.fields, [{ field: "apiVersion", message: "required" }]);
});

Deno.test("validateObject() checks labels and annotations", () => {
  const e = invalid(`
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {"app.example.com/tier": fe, "-x": a, ok: "not ok", n: 1}
  annotations: {"Bad/Key": v, big: "${"x".repeat(256 * 1024)}"}
spec: {}`);
  assert.deepEqual(e.fields.map((f) => f.field), [
    "metadata.labels.ok",
    "metadata.labels.n",
    "metadata.labels[-x]",
    "metadata.annotations[Bad/Key]",
    "metadata.annotations",
  ]);
});

Deno.test("validateObject() accepts and drops server-owned fields", () => {
  const out = validateObject(parse(`
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
  uid: 1f0c
  creationTimestamp: "2018-08-07T20:32:05-07:00"
  resourceVersion: 42
  generation: 3
spec: {units: []}
status: {phase: Running}`));
  assert.deepEqual(out.metadata, { name: "web", namespace: "default", resourceVersion: "42" });
  assert.equal("status" in out, false);
});

Deno.test("validateObject() throws BadRequestError for documents that are not objects", () => {
  for (const raw of [null, [], "Pod", 3]) {
    assert.throws(() => validateObject(raw), BadRequestError, JSON.stringify(raw));
  }
});

Deno.test("validateObject() throws BadRequestError listing the kinds for a missing or unknown kind", () => {
  const known = "known kinds: Pod, Node, Service, Deployment, ReplicaSet, Event, Secret";
  assert.throws(() => validateObject({ apiVersion: "v1" }), (e) => {
    assert.ok(e instanceof BadRequestError);
    assert.equal(e.message, `the manifest has no "kind"; ${known}`);
    return true;
  });
  assert.throws(() => validateObject({ kind: "ConfigMap" }), (e) => {
    assert.ok(e instanceof BadRequestError);
    assert.equal(e.message, `unknown kind "ConfigMap"; ${known}`);
    return true;
  });
  assert.throws(() => validateObject({ kind: "pod" }), /did you mean "Pod"\?/);
});

Deno.test("validateObject() throws BadRequestError for kinds users cannot write", () => {
  for (const kind of ["Node", "Event"]) {
    assert.throws(
      () => validateObject({ apiVersion: "v1", kind, metadata: { name: "x" } }),
      (e) =>
        e instanceof BadRequestError &&
        e.message.startsWith(`${kind} objects are managed by Milpa`),
    );
  }
});
