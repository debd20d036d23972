import assert from "node:assert/strict";
import { NotFoundError } from "../../../model/errors.ts";
import { fakeCloud } from "./fake_cloud.ts";
import { batches, recordChanges, wantedRecordSets } from "./route53.ts";
import type { Change } from "../sdk.ts";

const ports = [
  { name: "http", protocol: "TCP" as const, port: 30080 },
  { name: "dns", protocol: "UDP" as const, port: 30053 },
  { protocol: "TCP" as const, port: 30090 },
];
const two = [{ pod: "web-1", address: "10.0.0.1" }, { pod: "web-2", address: "10.0.0.2" }];

Deno.test("wantedRecordSets() makes one record set per name and type from serviceRecords()", () => {
  const sets = wantedRecordSets({
    service: "default/web",
    zone: "test.local",
    ttl: 30,
    ports,
    endpoints: two,
  });
  assert.deepStrictEqual(
    sets.map((s) => [s.Name, s.Type, s.TTL, s.ResourceRecords!.map((r) => r.Value)]),
    [
      ["_dns._udp.web.default.test.local", "SRV", 30, [
        "0 10 30053 web-1.web.default.test.local",
        "0 10 30053 web-2.web.default.test.local",
      ]],
      ["_http._tcp.web.default.test.local", "SRV", 30, [
        "0 10 30080 web-1.web.default.test.local",
        "0 10 30080 web-2.web.default.test.local",
      ]],
      ["web-1.web.default.test.local", "A", 30, ["10.0.0.1"]],
      ["web-2.web.default.test.local", "A", 30, ["10.0.0.2"]],
      ["web.default.test.local", "A", 30, ["10.0.0.1", "10.0.0.2"]],
    ],
  );
});

Deno.test("recordChanges() upserts what differs and deletes the extra as held", () => {
  const a = (name: string, ttl: number, ...values: string[]) => ({
    Name: name,
    Type: "A" as const,
    TTL: ttl,
    ResourceRecords: values.map((Value) => ({ Value })),
  });
  const srv = (value: string) => ({ ...a("_p._tcp.web.ns.z", 30, value), Type: "SRV" as const });
  const held = [
    a("web.ns.z.", 30, "10.0.0.2", "10.0.0.1"),
    a("old.web.ns.z.", 30, "10.0.0.9"),
    a("p1.web.ns.z.", 60, "10.0.0.1"),
    srv("0 10 80 P1.web.ns.z."),
  ];
  const wanted = [
    a("web.ns.z", 30, "10.0.0.1", "10.0.0.2"),
    a("p1.web.ns.z", 30, "10.0.0.1"),
    srv("0 10 80 p1.web.ns.z"),
  ];
  assert.deepStrictEqual(recordChanges(wanted, held), [
    { Action: "DELETE", ResourceRecordSet: held[1] },
    { Action: "UPSERT", ResourceRecordSet: wanted[1] },
  ]);
  assert.deepStrictEqual(recordChanges([], held.slice(0, 1)), [
    { Action: "DELETE", ResourceRecordSet: held[0] },
  ]);
});

Deno.test("batches() keeps each batch within Route 53's value limit", () => {
  const change = (n: number, Action: "UPSERT" | "DELETE"): Change => ({
    Action,
    ResourceRecordSet: {
      Name: "x",
      Type: "A",
      ResourceRecords: Array.from({ length: n }, () => ({ Value: "1.1.1.1" })),
    },
  });
  assert.deepStrictEqual(batches([]), []);
  const out = batches([change(300, "UPSERT"), change(300, "DELETE"), change(100, "UPSERT")]);
  assert.deepStrictEqual(out.map((b) => b.length), [2, 1]);
});

Deno.test("syncDns() creates one private zone for the VPC, even when asked twice at once", async () => {
  const c = fakeCloud();
  c.route53.addZone("test.local", "vpc-other");
  c.route53.addZone("test.local", undefined, false);
  const services = c.services();
  await Promise.all([
    services.syncDns("default/web", ports, two),
    services.syncDns("default/api", ports, [{ pod: "api-1", address: "10.0.0.5" }]),
  ]);
  const created = c.route53.calls.filter((x) => x.name === "createHostedZone");
  assert.equal(created.length, 1);
  const input = created[0].args[0] as Record<string, unknown>;
  assert.deepStrictEqual(input.VPC, { VPCId: "vpc-1", VPCRegion: "us-east-1" });
  assert.deepStrictEqual(input.HostedZoneConfig, {
    PrivateZone: true,
    Comment: "Milpa cluster test (controller ctl)",
  });
  assert.match(String(input.CallerReference), /^milpa-ctl-/);
  const zoneId = [...c.route53.zones.entries()].find(([, z]) => z.vpcs[0]?.VPCId === "vpc-1")![0];
  assert.deepStrictEqual(c.route53.zones.get(zoneId)!.tags, [
    { Key: "MilpaControllerID", Value: "ctl" },
    { Key: "Name", Value: "test.local" },
  ]);
  assert.equal(c.route53.dump(zoneId).length, 5 + 4);

  c.route53.reset();
  await c.services().syncDns("default/web", ports, two);
  assert.deepStrictEqual(c.route53.writes(), [], "a restarted controller finds the zone");
});

Deno.test("syncDns() touches only its own names, across pages, and deletes them when empty", async () => {
  const c = fakeCloud();
  const zoneId = c.route53.addZone("test.local", "vpc-1");
  c.route53.pageSize = 2;
  const services = c.services();
  const neighbours = ["default/we", "default/web-2", "default/webs", "other/web"];
  for (const s of neighbours) await services.syncDns(s, ports, [{ pod: "p", address: "10.0.1.1" }]);
  const before = c.route53.dump(zoneId);
  await services.syncDns("default/web", ports, two);
  c.route53.reset();
  await services.syncDns("default/web", ports, [{ pod: "web-1", address: "10.0.0.1" }]);
  const [batch] = c.route53.calls.filter((x) => x.name === "changeResourceRecordSets");
  assert.deepStrictEqual(
    (batch.args[1] as Change[]).map((ch) => `${ch.Action} ${ch.ResourceRecordSet!.Name}`),
    [
      "DELETE web-2.web.default.test.local.",
      "UPSERT _dns._udp.web.default.test.local",
      "UPSERT _http._tcp.web.default.test.local",
      "UPSERT web.default.test.local",
    ],
  );
  assert.equal(c.route53.writes().length, 1, "one batch");
  await services.syncDns("default/web", ports, []);
  assert.deepStrictEqual(c.route53.dump(zoneId), before);
  assert.deepStrictEqual(await services.listServices(), neighbours.sort());
});

Deno.test("syncDns() without endpoints makes no zone", async () => {
  const c = fakeCloud();
  await c.services().syncDns("default/web", ports, []);
  assert.deepStrictEqual(c.route53.writes(), []);
  assert.deepStrictEqual(await c.services().listServices(), []);
});

Deno.test("syncDns() looks the zone up again after it was deleted", async () => {
  const c = fakeCloud();
  const services = c.services();
  await services.syncDns("default/web", ports, two);
  c.route53.zones.clear();
  await assert.rejects(() => services.syncDns("default/web", ports, two), NotFoundError);
  await services.syncDns("default/web", ports, two);
  assert.equal(c.route53.zones.size, 1);
  assert.equal(c.route53.dump([...c.route53.zones.keys()][0]).length, 5);
});
