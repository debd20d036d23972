/**
 * Test support: a stateful fake of `Route53Api`: zones with their VPCs, record sets listed in
 * Route 53's order (names with labels reversed) a few per page, and change batches that are
 * atomic and refuse a DELETE that does not match exactly, as Route 53 does.
 */
import { awsError, Recorder } from "./fake_recorder.ts";
import type {
  Change,
  CreateHostedZoneCommandInput,
  HostedZone,
  RecordSetPage,
  ResourceRecordSet,
  Route53Api,
  VPC,
} from "../sdk.ts";

interface Zone {
  zone: HostedZone;
  vpcs: VPC[];
  records: ResourceRecordSet[];
  tags: { Key?: string; Value?: string }[];
}

const dotted = (name: string) => name.replace(/\.?$/, ".").toLowerCase();
const order = (r: ResourceRecordSet) =>
  `${dotted(r.Name!).slice(0, -1).split(".").reverse().join(".")} ${r.Type}`;

/** A fake Route 53. */
export class FakeRoute53 extends Recorder implements Route53Api {
  readonly zones = new Map<string, Zone>();
  /** Record sets per ListResourceRecordSets page. */
  pageSize = 3;
  #next = 1;

  /** Adds a zone directly (e.g. one of another VPC). */
  addZone(name: string, vpcId: string | undefined, priv = true): string {
    const id = `Z${this.#next++}`;
    this.zones.set(id, {
      zone: { Id: id, Name: dotted(name), CallerReference: id, Config: { PrivateZone: priv } },
      vpcs: vpcId ? [{ VPCId: vpcId, VPCRegion: "us-east-1" as VPC["VPCRegion"] }] : [],
      records: [],
      tags: [],
    });
    return id;
  }

  /** The A and SRV record sets of a zone as "name type: values". */
  dump(zoneId: string): string[] {
    return this.zones.get(zoneId)!.records.filter((r) => r.Type === "A" || r.Type === "SRV")
      .map((r) =>
        `${r.Name} ${r.Type} ${r.TTL}: ${r.ResourceRecords!.map((v) => v.Value).join(",")}`
      )
      .sort();
  }

  listHostedZonesByName(dnsName: string) {
    this.record("listHostedZonesByName", dnsName);
    return Promise.resolve(
      [...this.zones.values()].filter((z) => z.zone.Name === dotted(dnsName)).map((z) => z.zone),
    );
  }

  getHostedZoneVpcs(zoneId: string) {
    this.record("getHostedZoneVpcs", zoneId);
    const z = this.zones.get(zoneId);
    return z ? Promise.resolve(z.vpcs) : Promise.reject(awsError("NoSuchHostedZone"));
  }

  createHostedZone(input: CreateHostedZoneCommandInput) {
    this.record("createHostedZone", input);
    return Promise.resolve(this.zones.get(this.addZone(input.Name!, input.VPC?.VPCId))!.zone);
  }

  tagHostedZone(zoneId: string, tags: { Key?: string; Value?: string }[]) {
    this.record("tagHostedZone", zoneId, tags);
    this.zones.get(zoneId)!.tags.push(...tags);
    return Promise.resolve();
  }

  listResourceRecordSets(zoneId: string, start?: { name: string; type?: string }) {
    this.record("listResourceRecordSets", zoneId, start);
    const z = this.zones.get(zoneId);
    if (!z) return Promise.reject(awsError("NoSuchHostedZone"));
    // Plain code-unit order, as Route 53 (and moto) list: `web-2` sorts before `web.x`.
    const all = [...z.records].sort((a, b) =>
      order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0
    );
    const from = start
      ? order({ Name: start.name, Type: (start.type ?? "") as ResourceRecordSet["Type"] })
      : "";
    const rest = all.filter((r) => order(r) >= from);
    const page: RecordSetPage = { records: structuredClone(rest.slice(0, this.pageSize)) };
    const next = rest[this.pageSize];
    if (next) page.next = { name: next.Name!, type: next.Type! };
    return Promise.resolve(page);
  }

  changeResourceRecordSets(zoneId: string, changes: Change[]) {
    this.record("changeResourceRecordSets", zoneId, changes);
    const z = this.zones.get(zoneId);
    if (!z) return Promise.reject(awsError("NoSuchHostedZone"));
    const records = [...z.records];
    for (const c of changes) {
      const r = { ...c.ResourceRecordSet!, Name: dotted(c.ResourceRecordSet!.Name!) };
      const at = records.findIndex((h) => h.Name === r.Name && h.Type === r.Type);
      if (c.Action === "DELETE") {
        if (at < 0 || JSON.stringify(records[at]) !== JSON.stringify(r)) {
          return Promise.reject(awsError("InvalidChangeBatch", `no such record set ${r.Name}`));
        }
        records.splice(at, 1);
      } else if (at >= 0) records[at] = r;
      else records.push(r);
    }
    z.records = records;
    return Promise.resolve();
  }
}
