/**
 * A Service's DNS records, as every cloud publishes them (the local cloud's own DNS server,
 * Route53 on AWS): `<svc>.<ns>.<zone>` A records, one per endpoint, and SRV records per named
 * port. Cloud-neutral; `local/dns_records.ts` serves them, `aws/services/route53.ts` writes them.
 */

/** An A record one service contributes; `ttl` defaults to the zone's. */
export interface ARecord {
  name: string;
  address: string;
  ttl?: number;
}

/** An SRV record one service contributes; `ttl` defaults to the zone's. */
export interface SrvRecord {
  name: string;
  priority: number;
  weight: number;
  port: number;
  target: string;
  ttl?: number;
}

/** Everything one service contributes to the zone. */
export interface ServiceRecordSet {
  a: ARecord[];
  srv: SrvRecord[];
}

const LABEL = /^[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?$/;

/** Lowercase, without one trailing dot. */
export function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** Whether a normalized name is one we can store and encode: ASCII labels of 1–63, 253 in all. */
export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split(".").every((l) => LABEL.test(l));
}

/** The weight of every SRV record `serviceRecords` makes: all endpoints are equal. */
export const SRV_WEIGHT = 10;

/** What `serviceRecords` needs to know of a service. */
export interface ServiceRecordsInput {
  service: string;
  namespace: string;
  /** The zone's apex, e.g. "milpa.local". */
  zone: string;
  /** @default the zone's TTL */
  ttl?: number;
  /** `port` is the node port. Unnamed ports and ICMP get no SRV record. */
  ports: { name?: string; protocol: "TCP" | "UDP" | "ICMP"; port: number }[];
  /** Ready endpoints only. */
  endpoints: { pod: string; address: string }[];
}

/**
 * A service's records: `<svc>.<ns>.<zone>` A → every endpoint; per endpoint
 * `<pod>.<svc>.<ns>.<zone>` A → its address (the dashed address, `10-0-0-5.<svc>...`, when the pod
 * name would make too long a name); per named TCP/UDP port and endpoint
 * `_<port>._<tcp|udp>.<svc>.<ns>.<zone>` SRV `0 10 <port> <pod target>`.
 */
export function serviceRecords(input: ServiceRecordsInput): ServiceRecordSet {
  const base = normalize(`${input.service}.${input.namespace}.${input.zone}`);
  const ttl = input.ttl === undefined ? {} : { ttl: input.ttl };
  const endpoints = [...new Map(input.endpoints.map((e) => [`${e.pod} ${e.address}`, e])).values()];
  const targets = endpoints.map((e) => {
    const byPod = normalize(`${e.pod}.${base}`);
    return {
      address: e.address,
      target: isValidName(byPod) ? byPod : `${e.address.replaceAll(".", "-")}.${base}`,
    };
  });
  const a: ARecord[] = [
    ...targets.map((t) => ({ name: base, address: t.address, ...ttl })),
    ...targets.map((t) => ({ name: t.target, address: t.address, ...ttl })),
  ];
  const srv: SrvRecord[] = input.ports
    .filter((p) => p.name && p.protocol !== "ICMP")
    .flatMap((p) =>
      targets.map((t) => ({
        name: `_${p.name!.toLowerCase()}._${p.protocol.toLowerCase()}.${base}`,
        priority: 0,
        weight: SRV_WEIGHT,
        port: p.port,
        target: t.target,
        ...ttl,
      }))
    );
  return { a, srv };
}
