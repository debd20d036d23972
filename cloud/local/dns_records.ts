/**
 * The records of the cluster's DNS zone (`<clusterName>.local`): a pure, synchronous store that
 * answers questions the way an authoritative-only server must. `dns_server.ts` puts it on the wire.
 */
import { isValidName, normalize, type ServiceRecordSet } from "../service_records.ts";
import { ipToNumber } from "./addresses.ts";

/** The data of an SRV answer. */
export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** The data of the zone's SOA record. */
export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/** A resource record of an answer; the shape dns-packet encodes and decodes. */
export type DnsRecord =
  | { name: string; type: "A"; class: "IN"; ttl: number; data: string }
  | { name: string; type: "NS"; class: "IN"; ttl: number; data: string }
  | { name: string; type: "SRV"; class: "IN"; ttl: number; data: SrvData }
  | { name: string; type: "SOA"; class: "IN"; ttl: number; data: SoaData };

/** Response codes the zone and the server produce. */
export type Rcode = "NOERROR" | "FORMERR" | "SERVFAIL" | "NXDOMAIN" | "NOTIMP" | "REFUSED";

/** A question, as dns-packet decodes it (`type` "ANY" for `*`, "UNKNOWN_65" for unnamed types). */
export interface DnsQuestion {
  name: string;
  type: string;
  class?: string;
}

/** The zone's reply to one question, without the header's other flags. */
export interface DnsAnswer {
  rcode: Rcode;
  /** AA: set for every name inside the zone. */
  authoritative: boolean;
  answers: DnsRecord[];
  /** The SOA on NXDOMAIN and NODATA, so resolvers cache the negative answer. */
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

/** Options of a zone. */
export interface DnsZoneOptions {
  /** The apex, e.g. "milpa.local". */
  name: string;
  /** TTL of every record, and of negative answers. @default 30 */
  ttl?: number;
  /** Address of `ns.<zone>`, the name server the NS record names (the bridge address). */
  nameserverAddress?: string;
}

interface NameRecords {
  a: Map<string, number>;
  srv: Map<string, { data: SrvData; ttl: number }>;
}

const NAMESERVER_OWNER = "#nameserver";

function isUint16(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 65535;
}

/**
 * One authoritative zone, holding record sets by owner (a service key "namespace/name").
 *
 * Several owners may publish the same name; answers merge them without duplicates. The zone only
 * answers for names inside it: anything else is REFUSED, never NXDOMAIN, because it is not a
 * recursive resolver and a REFUSED lets stub resolvers (glibc, musl) go on to the next
 * `nameserver` of resolv.conf, where an NXDOMAIN would end the lookup.
 */
export class DnsZone {
  /** The apex, lowercase, e.g. "milpa.local". */
  readonly name: string;
  /** TTL of records without their own, and of negative answers. */
  readonly ttl: number;
  #owners = new Map<string, Map<string, NameRecords>>();
  #byName = new Map<string, Set<string>>();
  /** Names that exist (own records, or are ancestors of such): how many (owner, name) pairs hold them. */
  #refs = new Map<string, number>();
  #serial = 1;

  constructor(options: DnsZoneOptions) {
    this.name = normalize(options.name);
    this.ttl = options.ttl ?? 30;
    if (!isValidName(this.name)) throw new Error(`invalid DNS zone "${options.name}"`);
    if (!Number.isInteger(this.ttl) || this.ttl < 0) {
      throw new Error(`invalid DNS TTL ${this.ttl}: must be a whole number of seconds`);
    }
    if (options.nameserverAddress !== undefined) {
      this.#put(NAMESERVER_OWNER, {
        a: [{ name: `ns.${this.name}`, address: options.nameserverAddress }],
        srv: [],
      });
    }
  }

  /** The SOA record; its serial grows with every change. */
  get soa(): DnsRecord & { type: "SOA" } {
    return {
      name: this.name,
      type: "SOA",
      class: "IN",
      ttl: this.ttl,
      data: {
        mname: `ns.${this.name}`,
        rname: `hostmaster.${this.name}`,
        serial: this.#serial,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum: this.ttl,
      },
    };
  }

  /** Replaces everything service `key` contributed; throws, changing nothing, on a bad record. */
  setService(key: string, records: ServiceRecordSet): void {
    if (key.startsWith("#")) throw new Error(`invalid DNS owner "${key}"`);
    this.#put(key, records);
  }

  /** Keys of the services that have records. */
  services(): string[] {
    return [...this.#owners.keys()].filter((k) => !k.startsWith("#"));
  }

  /** Removes everything service `key` contributed. */
  removeService(key: string): void {
    if (this.#remove(key)) this.#serial++;
  }

  /** The reply to one question (see the class comment for names outside the zone). */
  answer(question: DnsQuestion): DnsAnswer {
    const name = normalize(question.name);
    const asked = question.name.replace(/\.$/, "");
    const klass = question.class ?? "IN";
    const inZone = name === this.name || name.endsWith(`.${this.name}`);
    if (!inZone || (klass !== "IN" && klass !== "ANY")) return reply("REFUSED", false);
    if (question.type === "AXFR" || question.type === "IXFR") return reply("REFUSED", true);
    if (!this.#refs.has(name) && name !== this.name) return this.#negative("NXDOMAIN");
    const answers: DnsRecord[] = [];
    const type = question.type;
    if (type === "A" || type === "ANY") answers.push(...this.#a(name, asked));
    if (type === "SRV" || type === "ANY") answers.push(...this.#srv(name, asked));
    if (name === this.name && (type === "SOA" || type === "ANY")) {
      answers.push({ ...this.soa, name: asked });
    }
    if (name === this.name && (type === "NS" || type === "ANY")) {
      answers.push({
        name: asked,
        type: "NS",
        class: "IN",
        ttl: this.ttl,
        data: `ns.${this.name}`,
      });
    }
    if (answers.length === 0) return this.#negative("NOERROR");
    return { ...reply("NOERROR", true), answers, additionals: this.#additionals(answers) };
  }

  /** A records of the targets of SRV and NS answers, except those already answered. */
  #additionals(answers: DnsRecord[]): DnsRecord[] {
    const answered = new Set(answers.filter((r) => r.type === "A").map((r) => normalize(r.name)));
    const targets = new Set<string>();
    for (const r of answers) {
      const target = r.type === "SRV" ? r.data.target : r.type === "NS" ? r.data : undefined;
      if (target !== undefined && !answered.has(target)) targets.add(target);
    }
    return [...targets].flatMap((t) => this.#a(t, t));
  }

  #negative(rcode: "NXDOMAIN" | "NOERROR"): DnsAnswer {
    const soa = this.soa;
    return {
      ...reply(rcode, true),
      authorities: [{ ...soa, ttl: Math.min(soa.data.minimum, soa.ttl) }],
    };
  }

  #records(name: string): NameRecords[] {
    return [...this.#byName.get(name) ?? []].map((o) => this.#owners.get(o)!.get(name)!);
  }

  #a(name: string, owner: string): DnsRecord[] {
    const merged = new Map<string, number>();
    for (const r of this.#records(name)) {
      for (const [address, ttl] of r.a) {
        merged.set(address, Math.min(ttl, merged.get(address) ?? ttl));
      }
    }
    return [...merged].map(([data, ttl]) => ({ name: owner, type: "A", class: "IN", ttl, data }));
  }

  #srv(name: string, owner: string): DnsRecord[] {
    const merged = new Map<string, { data: SrvData; ttl: number }>();
    for (const r of this.#records(name)) {
      for (const [key, v] of r.srv) {
        const seen = merged.get(key);
        merged.set(key, { data: v.data, ttl: Math.min(v.ttl, seen?.ttl ?? v.ttl) });
      }
    }
    return [...merged.values()].map(({ data, ttl }) => ({
      name: owner,
      type: "SRV",
      class: "IN",
      ttl,
      data,
    }));
  }

  #put(owner: string, records: ServiceRecordSet): void {
    const byName = this.#index(owner, records);
    this.#remove(owner);
    this.#owners.set(owner, byName);
    for (const name of byName.keys()) {
      const owners = this.#byName.get(name) ?? new Set();
      this.#byName.set(name, owners.add(owner));
      for (const n of this.#lineage(name)) this.#refs.set(n, (this.#refs.get(n) ?? 0) + 1);
    }
    this.#serial++;
  }

  #remove(owner: string): boolean {
    const byName = this.#owners.get(owner);
    if (byName === undefined) return false;
    this.#owners.delete(owner);
    for (const name of byName.keys()) {
      const owners = this.#byName.get(name)!;
      owners.delete(owner);
      if (owners.size === 0) this.#byName.delete(name);
      for (const n of this.#lineage(name)) {
        const left = this.#refs.get(n)! - 1;
        if (left === 0) this.#refs.delete(n);
        else this.#refs.set(n, left);
      }
    }
    return true;
  }

  /** `name` and its ancestors below the apex: they all exist once `name` has records. */
  #lineage(name: string): string[] {
    const out: string[] = [];
    for (let n = name; n !== this.name; n = n.slice(n.indexOf(".") + 1)) out.push(n);
    return out;
  }

  /** Validates and groups one owner's records by normalized name. */
  #index(owner: string, records: ServiceRecordSet): Map<string, NameRecords> {
    const fail = (why: string) => {
      throw new Error(`Cannot set DNS records of "${owner}": ${why}`);
    };
    const byName = new Map<string, NameRecords>();
    const at = (raw: string) => {
      const name = normalize(raw);
      if (!isValidName(name)) fail(`invalid name "${raw}"`);
      if (name === this.name || !name.endsWith(`.${this.name}`)) {
        fail(`name "${raw}" is not inside zone "${this.name}"`);
      }
      const r = byName.get(name) ?? { a: new Map(), srv: new Map() };
      byName.set(name, r);
      return r;
    };
    const ttlOf = (ttl: number | undefined) => {
      if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 0)) fail(`invalid TTL ${ttl}`);
      return ttl ?? this.ttl;
    };
    for (const rec of records.a) {
      try {
        ipToNumber(rec.address);
      } catch {
        fail(`invalid IPv4 address "${rec.address}" for "${rec.name}"`);
      }
      const ttl = ttlOf(rec.ttl);
      const a = at(rec.name).a;
      a.set(rec.address, Math.min(ttl, a.get(rec.address) ?? ttl));
    }
    for (const rec of records.srv) {
      if (![rec.priority, rec.weight, rec.port].every(isUint16)) {
        fail(`invalid priority, weight or port in SRV "${rec.name}"`);
      }
      const target = normalize(rec.target);
      if (!isValidName(target)) fail(`invalid SRV target "${rec.target}"`);
      const data = { priority: rec.priority, weight: rec.weight, port: rec.port, target };
      const key = `${data.priority} ${data.weight} ${data.port} ${target}`;
      const ttl = ttlOf(rec.ttl);
      const srv = at(rec.name).srv;
      srv.set(key, { data, ttl: Math.min(ttl, srv.get(key)?.ttl ?? ttl) });
    }
    return byName;
  }
}

function reply(rcode: Rcode, authoritative: boolean): DnsAnswer {
  return { rcode, authoritative, answers: [], authorities: [], additionals: [] };
}
