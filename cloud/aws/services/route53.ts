/**
 * Services' DNS on Route 53: a private hosted zone `<clusterName>.local` associated with the
 * VPC (created when first needed), holding for each service the records `serviceRecords`
 * builds (the local cloud's shapes), one record set per name and type. A sync reads what the
 * zone holds under the service's name and sends the difference as one change batch.
 */
import { NotFoundError } from "../../../model/errors.ts";
import { serviceRecords } from "../../service_records.ts";
import type { ServiceDnsPort } from "../../provider.ts";
import type { Caller } from "../errors.ts";
import { CONTROLLER_TAG, splitService } from "./names.ts";
import type { Change, ResourceRecordSet, Route53Api, VPCRegion } from "../sdk.ts";

/** What the records are managed with. */
export interface ServiceRecordsOptions {
  route53: Route53Api;
  call: Caller;
  controllerId: string;
  clusterName: string;
  vpcId: string;
  region: string;
  /** TTL of every record, in seconds. */
  ttl: number;
  log: (message: string) => void;
}

/** Lowercase, without one trailing dot. */
function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

function reversed(name: string): string {
  return name.split(".").reverse().join(".");
}

/** Whether `name` is `base` or below it. */
export function isUnder(name: string, base: string): boolean {
  const n = normalize(name);
  return n === base || n.endsWith(`.${base}`);
}

/** The record sets of a service: `serviceRecords`, one set per name and type, sorted. */
export function wantedRecordSets(input: {
  service: string;
  zone: string;
  ttl: number;
  ports: ServiceDnsPort[];
  endpoints: { pod: string; address: string }[];
}): ResourceRecordSet[] {
  const { namespace, name } = splitService(input.service);
  const records = serviceRecords({
    service: name,
    namespace,
    zone: input.zone,
    ports: input.ports,
    endpoints: input.endpoints,
  });
  const sets = new Map<string, { name: string; type: "A" | "SRV"; values: Set<string> }>();
  const add = (name: string, type: "A" | "SRV", value: string) => {
    const key = `${name} ${type}`;
    const set = sets.get(key) ?? { name, type, values: new Set<string>() };
    sets.set(key, set);
    set.values.add(value);
  };
  for (const a of records.a) add(normalize(a.name), "A", a.address);
  for (const s of records.srv) {
    add(normalize(s.name), "SRV", `${s.priority} ${s.weight} ${s.port} ${normalize(s.target)}`);
  }
  return [...sets.values()].sort((a, b) =>
    `${a.name} ${a.type}`.localeCompare(`${b.name} ${b.type}`)
  )
    .map((s) => ({
      Name: s.name,
      Type: s.type,
      TTL: input.ttl,
      ResourceRecords: [...s.values].sort().map((Value) => ({ Value })),
    }));
}

/** A record set's identity and content, normalized so that AWS's spelling compares equal. */
function shape(r: ResourceRecordSet): { key: string; content: string } {
  const values = (r.ResourceRecords ?? []).map((v) =>
    r.Type === "SRV" ? normalize(v.Value ?? "") : v.Value ?? ""
  ).sort();
  return { key: `${normalize(r.Name ?? "")} ${r.Type}`, content: `${r.TTL} ${values.join(",")}` };
}

/** The changes that make `held` into `wanted`: UPSERT what differs, DELETE what is extra. */
export function recordChanges(wanted: ResourceRecordSet[], held: ResourceRecordSet[]): Change[] {
  const heldBy = new Map(held.map((r) => [shape(r).key, r]));
  const wantedKeys = new Set(wanted.map((r) => shape(r).key));
  const changes: Change[] = [];
  for (const r of held) {
    if (!wantedKeys.has(shape(r).key)) changes.push({ Action: "DELETE", ResourceRecordSet: r });
  }
  for (const r of wanted) {
    const h = heldBy.get(shape(r).key);
    if (!h || shape(h).content !== shape(r).content) {
      changes.push({ Action: "UPSERT", ResourceRecordSet: r });
    }
  }
  return changes;
}

/** Splits changes into batches Route 53 accepts (1,000 values, an UPSERT counting twice). */
export function batches(changes: Change[], limit = 1000): Change[][] {
  const out: Change[][] = [];
  let size = limit;
  for (const c of changes) {
    const n = (c.ResourceRecordSet?.ResourceRecords?.length ?? 1) * (c.Action === "UPSERT" ? 2 : 1);
    if (size + n > limit) out.push([]), size = 0;
    out.at(-1)!.push(c);
    size += n;
  }
  return out;
}

/** The DNS records of a controller's Services. */
export class ServiceRecords {
  /** The zone's apex, e.g. "milpa.local". */
  readonly zoneName: string;
  #zone?: Promise<string | undefined>;

  constructor(private readonly o: ServiceRecordsOptions) {
    this.zoneName = normalize(`${o.clusterName}.local`);
  }

  /** The id of the VPC's zone; created when missing and `create`. One lookup at a time. */
  zoneId(create: boolean): Promise<string | undefined> {
    const pending = (this.#zone ?? Promise.resolve(undefined)).then((id) =>
      id ?? this.#findOrCreate(create)
    );
    this.#zone = pending.catch(() => undefined);
    return pending;
  }

  async #findOrCreate(create: boolean): Promise<string | undefined> {
    const zones = await this.o.call(
      `list hosted zones named ${this.zoneName}`,
      () => this.o.route53.listHostedZonesByName(this.zoneName),
    );
    for (
      const z of zones.filter((z) => z.Config?.PrivateZone).sort((a, b) =>
        a.Id!.localeCompare(b.Id!)
      )
    ) {
      const vpcs = await this.o.call(
        `get hosted zone ${z.Id}`,
        () => this.o.route53.getHostedZoneVpcs(z.Id!),
      );
      if (vpcs.some((v) => v.VPCId === this.o.vpcId)) return z.Id!;
    }
    if (!create) return undefined;
    const zone = await this.o.call(
      `create hosted zone ${this.zoneName}`,
      () =>
        this.o.route53.createHostedZone({
          Name: this.zoneName,
          CallerReference: `milpa-${this.o.controllerId}-${crypto.randomUUID()}`,
          HostedZoneConfig: {
            PrivateZone: true,
            Comment: `Milpa cluster ${this.o.clusterName} (controller ${this.o.controllerId})`,
          },
          VPC: { VPCId: this.o.vpcId, VPCRegion: this.o.region as VPCRegion },
        }),
    );
    this.o.log(`created private hosted zone ${zone.Id} (${this.zoneName}) in ${this.o.vpcId}`);
    try {
      await this.o.call(`tag hosted zone ${zone.Id}`, () =>
        this.o.route53.tagHostedZone(zone.Id!, [
          { Key: CONTROLLER_TAG, Value: this.o.controllerId },
          { Key: "Name", Value: this.zoneName },
        ]));
    } catch (e) {
      this.o.log(`hosted zone ${zone.Id} left untagged: ${(e as Error).message}`);
    }
    return zone.Id!;
  }

  /** `<svc>.<ns>.<zone>`: every record of the service is this name or below it. */
  base(service: string): string {
    const { namespace, name } = splitService(service);
    return normalize(`${name}.${namespace}.${this.zoneName}`);
  }

  /** The A and SRV record sets the zone holds for the service. */
  async held(zoneId: string, service: string): Promise<ResourceRecordSet[]> {
    const base = this.base(service);
    const out: ResourceRecordSet[] = [];
    let start: { name: string; type?: string } | undefined = { name: base };
    // Route 53 lists by name with labels reversed, so the service's names come together;
    // names sharing the text prefix (`web-2` after `web`) may come between them.
    while (start) {
      const page = await this.o.call(
        `list records of ${base}`,
        () => this.o.route53.listResourceRecordSets(zoneId, start),
      );
      for (const r of page.records) {
        const name = normalize(r.Name ?? "");
        if (isUnder(name, base)) {
          if (r.Type === "A" || r.Type === "SRV") out.push(r);
        } else if (!reversed(name).startsWith(reversed(base))) {
          return out;
        }
      }
      start = page.next;
    }
    return out;
  }

  /** Makes the service's records those of `ports` over `endpoints` (none: deleted). */
  async sync(
    service: string,
    ports: ServiceDnsPort[],
    endpoints: { pod: string; address: string }[],
  ): Promise<void> {
    const zoneId = await this.zoneId(endpoints.length > 0);
    if (!zoneId) return;
    const wanted = wantedRecordSets({
      service,
      zone: this.zoneName,
      ttl: this.o.ttl,
      ports,
      endpoints,
    });
    try {
      const changes = recordChanges(wanted, await this.held(zoneId, service));
      for (const batch of batches(changes)) {
        await this.o.call(
          `change the DNS records of service "${service}"`,
          () => this.o.route53.changeResourceRecordSets(zoneId, batch),
        );
      }
    } catch (e) {
      // The zone was deleted behind our back: look it up (or make it) again next time.
      if (e instanceof NotFoundError) this.#zone = undefined;
      throw e;
    }
  }

  /** Removes every record of the service. */
  remove(service: string): Promise<void> {
    return this.sync(service, [], []);
  }

  /** Services with records: the last two labels below the zone of every A and SRV name. */
  async services(): Promise<string[]> {
    const zoneId = await this.zoneId(false);
    if (!zoneId) return [];
    const out = new Set<string>();
    let start: { name: string; type?: string } | undefined;
    do {
      const page = await this.o.call(
        `list records of ${this.zoneName}`,
        () => this.o.route53.listResourceRecordSets(zoneId, start),
      );
      for (const r of page.records) {
        const name = normalize(r.Name ?? "");
        if ((r.Type !== "A" && r.Type !== "SRV") || !name.endsWith(`.${this.zoneName}`)) continue;
        const labels = name.slice(0, -this.zoneName.length - 1).split(".");
        if (labels.length >= 2) out.add(`${labels.at(-1)}/${labels.at(-2)}`);
      }
      start = page.next;
    } while (start);
    return [...out];
  }
}
