import assert from "node:assert/strict";
import {
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
} from "@aws-sdk/client-route-53";
import { type MotoCloud, spied, withMoto } from "./moto_harness.ts";

async function records(m: MotoCloud, zoneId: string): Promise<Record<string, string[]>> {
  const r = await m.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
  const out: Record<string, string[]> = {};
  for (const s of r.ResourceRecordSets!) {
    if (s.Type !== "A" && s.Type !== "SRV") continue;
    assert.deepStrictEqual(s.TTL, 30);
    out[`${s.Name} ${s.Type}`] = s.ResourceRecords!.map((v) => v.Value!).sort();
  }
  return out;
}

withMoto("AwsServices.syncDns() keeps a service's records in the private zone", async (m) => {
  const { apis, calls } = spied(m);
  const services = m.services(apis);
  const ports = [
    { name: "http", protocol: "TCP" as const, port: 30080 },
    { protocol: "UDP" as const, port: 30053 },
  ];
  await services.syncDns("default/web-api", ports, [{ pod: "api-1", address: "172.31.0.20" }]);
  await services.syncDns("default/web", ports, [
    { pod: "web-1", address: "172.31.0.10" },
    { pod: "web-2", address: "172.31.0.11" },
  ]);
  const zones = (await m.route53.send(new ListHostedZonesByNameCommand({ DNSName: "test.local" })))
    .HostedZones!.filter((z) => z.Name === "test.local.");
  assert.deepStrictEqual(zones.length, 1, "one zone");
  assert.deepStrictEqual(zones[0].Config?.PrivateZone, true);
  const zoneId = zones[0].Id!;
  const vpcs = (await m.route53.send(new GetHostedZoneCommand({ Id: zoneId }))).VPCs!;
  assert.deepStrictEqual(vpcs.map((v) => v.VPCId), [m.vpcId]);
  const api = {
    "web-api.default.test.local. A": ["172.31.0.20"],
    "api-1.web-api.default.test.local. A": ["172.31.0.20"],
    "_http._tcp.web-api.default.test.local. SRV": ["0 10 30080 api-1.web-api.default.test.local"],
  };
  assert.deepStrictEqual(await records(m, zoneId), {
    ...api,
    "web.default.test.local. A": ["172.31.0.10", "172.31.0.11"],
    "web-1.web.default.test.local. A": ["172.31.0.10"],
    "web-2.web.default.test.local. A": ["172.31.0.11"],
    "_http._tcp.web.default.test.local. SRV": [
      "0 10 30080 web-1.web.default.test.local",
      "0 10 30080 web-2.web.default.test.local",
    ],
  });

  calls.length = 0;
  const restarted = m.services(apis);
  await restarted.syncDns("default/web", ports, [{ pod: "web-1", address: "172.31.0.12" }]);
  assert.deepStrictEqual(
    calls.filter((c) => c.name === "createHostedZone"),
    [],
    "the zone is found",
  );
  const batches = calls.filter((c) => c.name === "changeResourceRecordSets");
  assert.deepStrictEqual(batches.length, 1, "one batch");
  const changes = (batches[0].args[1] as { Action: string; ResourceRecordSet: { Name: string } }[])
    .map((c) => `${c.Action} ${c.ResourceRecordSet.Name.replace(/\.$/, "")}`).sort();
  assert.deepStrictEqual(changes, [
    "DELETE web-2.web.default.test.local",
    "UPSERT _http._tcp.web.default.test.local",
    "UPSERT web-1.web.default.test.local",
    "UPSERT web.default.test.local",
  ]);
  assert.deepStrictEqual(await records(m, zoneId), {
    ...api,
    "web.default.test.local. A": ["172.31.0.12"],
    "web-1.web.default.test.local. A": ["172.31.0.12"],
    "_http._tcp.web.default.test.local. SRV": ["0 10 30080 web-1.web.default.test.local"],
  });

  calls.length = 0;
  await restarted.syncDns("default/web", ports, [{ pod: "web-1", address: "172.31.0.12" }]);
  assert.deepStrictEqual(
    calls.filter((c) => c.name === "changeResourceRecordSets"),
    [],
    "no change",
  );

  assert.deepStrictEqual(await restarted.listServices(), ["default/web", "default/web-api"]);
  await restarted.syncDns("default/web", ports, []);
  assert.deepStrictEqual(await records(m, zoneId), api);
  await restarted.deleteService("default/web-api");
  assert.deepStrictEqual(await records(m, zoneId), {});
  assert.deepStrictEqual(await restarted.listServices(), []);
});
