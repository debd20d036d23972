/**
 * The AWS provider against moto (Python's AWS emulator): real SDK calls, a controller, and an
 * instance player that runs the real agent for every instance the controller launches.
 */
import assert from "node:assert/strict";
import {
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import {
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from "@aws-sdk/client-route-53";
import { type Controller, startController } from "../controller.ts";
import { ControllerPki } from "../api/pki.ts";
import { CA_PATH, writtenFile } from "../cloud/aws/user_data.ts";
import { createAwsCloud } from "../cloud/aws/setup.ts";
import { resolveConfig } from "../model/config.ts";
import type { Pod } from "../model/pod.ts";
import { LocalCloud } from "./support/local_cloud.ts";
import { hasMoto, InstancePlayer, type Moto, startMoto } from "./support/moto.ts";

const creds = { accessKeyId: "test", secretAccessKey: "test" };

interface World {
  moto: Moto;
  /** The controller's MILPA_HOME (its CA). */
  home: string;
  player: InstancePlayer;
  controller: Controller;
  calls: Map<string, number>;
  ec2: EC2Client;
  route53: Route53Client;
  elb: ElasticLoadBalancingClient;
  api(method: string, path: string, body?: unknown): Promise<Response>;
  waitFor<T>(
    check: () => T | undefined | false | Promise<T | undefined | false>,
    what: string,
    ms?: number,
  ): Promise<T>;
  /** Stops everything this world started; `keepKv` leaves the KV open, as a crash would. */
  close(opts?: { keepKv?: boolean }): Promise<void>;
}

/**
 * A controller on moto, serving https with a CA in `home` (a new temp dir unless given: a
 * restarted controller shares its predecessor's, whose CA the nodes trust).
 */
async function world(
  opts: { kv?: Deno.Kv; moto?: Moto; gcMs?: number; listen?: string; home?: string } = {},
): Promise<World> {
  const moto = opts.moto ?? await startMoto();
  const dir = opts.home ?? await Deno.makeTempDir({ prefix: "milpa-aws-" });
  const tls = await ControllerPki.open({ home: dir });
  const http = Deno.createHttpClient({ caCerts: [tls.caCertificate] });
  const player = new InstancePlayer(moto.ec2, dir);
  player.start();
  const aws = {
    endpointURL: moto.url,
    region: "us-east-1",
    accessKeyID: "test",
    secretAccessKey: "test",
  };
  const config = resolveConfig({
    clusterName: "e2e",
    cloud: { aws },
    nodes: { bootImage: moto.imageId },
  });
  let calls = new Map<string, number>();
  const controller = await startController({
    config,
    kv: opts.kv ?? await Deno.openKv(":memory:"),
    home: dir,
    listen: opts.listen ?? "127.0.0.1:0",
    tls,
    timings: {
      watchdogPeriodMs: 100,
      reconcilePeriodMs: 200,
      purgePeriodMs: 200,
      instanceGcPeriodMs: opts.gcMs ?? 60_000,
    },
    cloud: async ({ controllerId }) => {
      const c = await createAwsCloud({
        aws: config.cloud.aws!,
        nodes: config.nodes,
        controllerId,
        clusterName: config.clusterName,
        ttl: config.serviceDiscovery.ttl,
      });
      calls = c.calls;
      return c.provider;
    },
  });
  const client = { region: "us-east-1", endpoint: moto.url, credentials: creds, maxAttempts: 1 };
  const w: World = {
    moto,
    home: dir,
    player,
    controller,
    get calls() {
      return calls;
    },
    ec2: new EC2Client(client),
    route53: new Route53Client(client),
    elb: new ElasticLoadBalancingClient(client),
    api: (method, path, body) =>
      fetch(`${controller.url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${controller.token}` },
        body: body === undefined ? undefined : JSON.stringify(body),
        client: http,
      }),
    async waitFor(check, what, ms = 30_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const v = await check();
        if (v !== undefined && v !== false) return v as never;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async close({ keepKv = false } = {}) {
      await controller.close({ keepKv });
      await player.close();
      w.ec2.destroy();
      w.route53.destroy();
      w.elb.destroy();
      http.close();
      if (!opts.moto) await moto.close();
      if (!opts.home) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  return w;
}

async function ourInstances(w: World, states = ["pending", "running"]) {
  const r = await w.ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: "tag:MilpaControllerID", Values: [w.controller.controllerId] },
        { Name: "instance-state-name", Values: states },
      ],
    }),
  );
  return (r.Reservations ?? []).flatMap((x) => x.Instances ?? []);
}

function sleeper(name: string, labels: Record<string, string>) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels },
    spec: { resources: { memory: "0.4Gi" }, units: [{ name: "main", command: ["sleep", "3600"] }] },
  };
}

async function post(w: World, plural: string, body: unknown): Promise<void> {
  const r = await w.api("POST", `/api/v1/namespaces/default/${plural}`, body);
  assert.equal(r.status, 201, await r.text());
}

async function podPhase(w: World, name: string): Promise<string | undefined> {
  const r = await w.api("GET", `/api/v1/namespaces/default/pods/${name}`);
  return r.ok ? ((await r.json()) as Pod).status?.phase : undefined;
}

Deno.test({
  name:
    "AWS: a pod gets one tagged t3.nano, Services get a security group, records and an ELB; delete leaves nothing (needs python3 moto)",
  ignore: !hasMoto,
  async fn() {
    const w = await world();
    try {
      await post(w, "pods", sleeper("hello", { app: "hello" }));
      await w.waitFor(async () => await podPhase(w, "hello") === "Running", "pod Running");
      const [inst, ...more] = await ourInstances(w);
      assert.equal(more.length, 0, "exactly one instance");
      // The node got the CA and the agent program's sha256 in its user-data; its agent came up
      // over https trusting that CA alone, after the program it fetched matched.
      assert.match(w.controller.url, /^https:/);
      const userData = w.player.userData.get(inst.InstanceId!)!;
      assert.equal(writtenFile(userData, CA_PATH), await Deno.readTextFile(`${w.home}/ca.crt`));
      assert.match(userData, /sha256sum -c -/);
      assert.deepEqual([...w.player.bootFailures], []);
      assert.equal(inst.InstanceType, "t3.nano");
      assert.equal(
        inst.Tags?.find((t) => t.Key === "MilpaControllerID")?.Value,
        w.controller.controllerId,
      );

      // helloworld-svc: 8002 from anywhere, on that instance.
      await post(w, "services", {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "hello-svc" },
        spec: {
          selector: { app: "hello" },
          ports: [{ name: "http", port: 8002 }],
          sourceRanges: ["0.0.0.0/0"],
        },
      });
      const groupName = `milpa-${w.controller.controllerId}-default-hello-svc`;
      const group = await w.waitFor(async () => {
        const g = (await w.ec2.send(
          new DescribeSecurityGroupsCommand({
            Filters: [{ Name: "group-name", Values: [groupName] }],
          }),
        ))
          .SecurityGroups?.[0];
        return g?.IpPermissions?.some((p) =>
            p.FromPort === 8002 && p.IpRanges?.some((r) => r.CidrIp === "0.0.0.0/0")
          )
          ? g
          : undefined;
      }, "the service's security group");
      await w.waitFor(async () => {
        const [i] = await ourInstances(w);
        return i.SecurityGroups?.some((g) => g.GroupId === group.GroupId);
      }, "the group attached to the instance");

      // A and SRV records in the private zone e2e.local.
      const zone = await w.waitFor(async () => {
        const z = await w.route53.send(new ListHostedZonesByNameCommand({ DNSName: "e2e.local" }));
        return z.HostedZones?.find((h) => h.Name === "e2e.local.");
      }, "the private zone");
      const records = await w.waitFor(async () => {
        const r = await w.route53.send(
          new ListResourceRecordSetsCommand({ HostedZoneId: zone.Id }),
        );
        const sets = r.ResourceRecordSets ?? [];
        return sets.some((s) =>
            s.Type === "SRV" && s.Name?.startsWith("_http._tcp.hello-svc.default.e2e.local")
          )
          ? sets
          : undefined;
      }, "A and SRV records");
      assert.ok(records.some((s) => s.Type === "A" && s.Name === "hello-svc.default.e2e.local."));
      assert.equal(records.find((s) => s.Type === "SRV")?.TTL, 30);

      // A LoadBalancer Service: an ELB with the annotated health check and the instance registered.
      await post(w, "services", {
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: "hello-lb",
          annotations: {
            "service.elotl.co/aws-load-balancer-healthcheck-interval": "7",
            "service.elotl.co/aws-load-balancer-healthcheck-timeout": "3",
            "service.elotl.co/aws-load-balancer-healthcheck-healthy-threshold": "4",
            "service.elotl.co/aws-load-balancer-healthcheck-unhealthy-threshold": "5",
          },
        },
        spec: {
          type: "LoadBalancer",
          selector: { app: "hello" },
          ports: [{ name: "http", port: 80, nodePort: 8002 }],
          sourceRanges: ["0.0.0.0/0"],
        },
      });
      // The Service's status is written when the pass that made the ELB ends, after its rules
      // and records: wait for the status, not for the ELB (it has the instance earlier).
      const hostname = await w.waitFor(async () => {
        const r = await w.api("GET", "/api/v1/namespaces/default/services/hello-lb");
        const svc = await r.json();
        return svc.status?.loadBalancer?.ingress?.[0]?.hostname as string | undefined;
      }, "the Service's load balancer address");
      const lb = (await w.elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancerDescriptions
        ?.find((l) => l.DNSName === hostname);
      assert.ok(lb, `an ELB at ${hostname}`);
      assert.deepEqual(lb.Instances?.map((i) => i.InstanceId), [inst.InstanceId]);
      assert.match(lb.LoadBalancerName!, /^milpa-[a-z2-7]{26}$/);
      assert.deepEqual(
        [
          lb.HealthCheck?.Interval,
          lb.HealthCheck?.Timeout,
          lb.HealthCheck?.HealthyThreshold,
          lb.HealthCheck?.UnhealthyThreshold,
        ],
        [7, 3, 4, 5],
      );

      // Delete everything: nothing of ours is left.
      for (const path of ["services/hello-svc", "services/hello-lb", "pods/hello"]) {
        assert.equal((await w.api("DELETE", `/api/v1/namespaces/default/${path}`)).status, 200);
      }
      await w.waitFor(async () => (await ourInstances(w)).length === 0, "no instance");
      await w.waitFor(async () => {
        const groups = (await w.ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ??
          [];
        return !groups.some((g) => g.GroupName === groupName);
      }, "no service group");
      await w.waitFor(async () => {
        const d = await w.elb.send(new DescribeLoadBalancersCommand({}));
        return !(d.LoadBalancerDescriptions ?? []).some((l) =>
          l.LoadBalancerName === lb.LoadBalancerName
        );
      }, "no ELB");
      await w.waitFor(async () => {
        const r = await w.route53.send(
          new ListResourceRecordSetsCommand({ HostedZoneId: zone.Id }),
        );
        return !(r.ResourceRecordSets ?? []).some((s) => s.Name?.includes("hello-svc"));
      }, "no records");
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "AWS: kill -9 of the controller process right after RunInstances, restart: still one " +
    "instance (needs python3 moto)",
  ignore: !hasMoto,
  async fn() {
    const moto = await startMoto();
    const played = await Deno.makeTempDir({ prefix: "milpa-aws-played-" });
    const player = new InstancePlayer(moto.ec2, played);
    player.start(100);
    const cloud = await LocalCloud.start({
      serverYml: `clusterName: e2e
cloud:
  aws:
    region: us-east-1
    accessKeyID: test
    secretAccessKey: test
    endpointURL: ${moto.url}
nodes:
  bootImage: ${moto.imageId}
`,
    });
    const ec2 = new EC2Client({
      region: "us-east-1",
      endpoint: moto.url,
      credentials: creds,
      maxAttempts: 1,
    });
    const instances = async () =>
      ((await ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: "instance-state-name", Values: ["pending", "running"] }],
        }),
      )).Reservations ?? []).flatMap((r) => r.Instances ?? []);
    try {
      const file = `${cloud.home}/hello.json`;
      await Deno.writeTextFile(file, JSON.stringify(sleeper("hello", { app: "hello" })));
      await cloud.ok("create", "-f", file);
      // Poll moto tightly: the moment the instance exists, the controller dies.
      const deadline = Date.now() + 30_000;
      while ((await instances()).length === 0) {
        if (Date.now() > deadline) throw new Error("no RunInstances");
      }
      await cloud.killController();
      await cloud.startController();
      await cloud.eventually(
        async () => {
          const pod = await cloud.api<Pod>("/api/v1/namespaces/default/pods/hello");
          return pod.status?.phase === "Running";
        },
        "pod Running after the restart",
        60_000,
      );
      // Give a duplicate launch time to show up.
      await new Promise((r) => setTimeout(r, 2000));
      const all = await instances();
      assert.equal(all.length, 1, `one instance, not ${all.map((i) => i.InstanceId)}`);
      assert.equal(all[0].InstanceType, "t3.nano");
    } finally {
      await cloud.ok("delete", "pod", "hello").catch(() => {});
      await cloud.eventually(async () => (await instances()).length === 0, "no instance", 30_000)
        .catch(() => {});
      await cloud.close();
      await player.close();
      ec2.destroy();
      await moto.close();
      await Deno.remove(played, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "AWS: a controller restarted right after RunInstances still has one instance (needs python3 moto)",
  ignore: !hasMoto,
  async fn() {
    const moto = await startMoto();
    const kv = await Deno.openKv(":memory:");
    const home = await Deno.makeTempDir({ prefix: "milpa-aws-" });
    try {
      const first = await world({ kv, moto, home });
      await post(first, "pods", sleeper("hello", { app: "hello" }));
      await first.waitFor(() => (first.calls.get("RunInstances") ?? 0) >= 1, "RunInstances");
      // As close to kill -9 as one process gets: stop at once, keeping the KV as it is.
      await first.close({ keepKv: true });
      // The agents know the controller by the URL in their user-data, which stays the same.
      const second = await world({
        kv,
        moto,
        home,
        listen: new URL(first.controller.url).host,
      });
      try {
        await second.waitFor(
          async () => await podPhase(second, "hello") === "Running",
          "pod Running after restart",
        );
        assert.equal((await ourInstances(second)).length, 1, "still one instance");
        assert.equal(
          second.calls.get("RunInstances") ?? 0,
          0,
          "the restarted controller did not launch again",
        );
      } finally {
        await second.close();
      }
    } finally {
      try {
        kv.close();
      } catch {
        // The second controller closed it already.
      }
      await moto.close();
      await Deno.remove(home, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "AWS: an unknown instance with our tag is terminated after two passes; an untagged one never (needs python3 moto)",
  ignore: !hasMoto,
  async fn() {
    const w = await world({ gcMs: 400 });
    try {
      const run = (tags: { Key: string; Value: string }[]) =>
        w.ec2.send(
          new RunInstancesCommand({
            ImageId: w.moto.imageId,
            InstanceType: "t3.nano",
            MinCount: 1,
            MaxCount: 1,
            TagSpecifications: [{ ResourceType: "instance", Tags: tags }],
          }),
        );
      const orphan = (await run([{ Key: "MilpaControllerID", Value: w.controller.controllerId }, {
        Key: "Node",
        Value: "ghost",
      }]))
        .Instances![0].InstanceId!;
      const foreign = (await run([{ Key: "Name", Value: "not ours" }])).Instances![0].InstanceId!;
      const t0 = Date.now();
      const state = async (id: string) =>
        (await w.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]
          ?.Instances?.[0]?.State?.Name;
      await w.waitFor(
        async () => ["terminated", "shutting-down"].includes((await state(orphan))!),
        "orphan terminated",
      );
      assert.ok(Date.now() - t0 >= 400, "not on the first pass");
      assert.equal(await state(foreign), "running");
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "AWS: a deployment scaled 0 → 30 → 0, EC2 calls per pod (needs python3 moto)",
  ignore: !hasMoto,
  async fn() {
    const w = await world();
    try {
      const deploy = (replicas: number) => ({
        apiVersion: "v1",
        kind: "Deployment",
        metadata: { name: "sleepers" },
        spec: {
          replicas,
          template: {
            metadata: { labels: { app: "sleepers" } },
            spec: { units: [{ name: "s", command: ["sleep", "3600"] }] },
          },
        },
      });
      await post(w, "deployments", deploy(0));
      const before = new Map(w.calls);
      const r = await w.api("PUT", "/api/v1/namespaces/default/deployments/sleepers", deploy(30));
      assert.equal(r.status, 200, await r.text());
      await w.waitFor(
        async () => {
          const pods = await (await w.api("GET", "/api/v1/namespaces/default/pods")).json();
          return pods.items.filter((p: Pod) => p.status?.phase === "Running").length === 30;
        },
        "30 pods Running",
        120_000,
      );
      const used = [...w.calls].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter((
        [, v],
      ) => v > 0);
      const total = used.reduce((n, [, v]) => n + v, 0);
      console.log(
        `EC2 and other AWS calls for 30 pods: ${total} (${(total / 30).toFixed(1)} per pod): ${
          used.map(([k, v]) => `${k} ${v}`).join(", ")
        }`,
      );
      assert.equal((await ourInstances(w)).length, 30);
      assert.equal(used.find(([k]) => k === "RunInstances")?.[1], 30, "one RunInstances per pod");
      assert.equal(
        (await w.api("PUT", "/api/v1/namespaces/default/deployments/sleepers", deploy(0))).status,
        200,
      );
      await w.waitFor(async () => (await ourInstances(w)).length === 0, "no instances", 60_000);
    } finally {
      await w.close();
    }
  },
});
