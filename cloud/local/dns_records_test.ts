import assert from "node:assert/strict";
import { serviceRecords, type ServiceRecordsInput, SRV_WEIGHT } from "../service_records.ts";
import { type DnsRecord, DnsZone } from "./dns_records.ts";

const ZONE = "milpa.local";

function backend(count = 3, over: Partial<ServiceRecordsInput> = {}): ServiceRecordsInput {
  return {
    service: "backend-svc",
    namespace: "default",
    zone: ZONE,
    ports: [{ name: "hello", protocol: "TCP", port: 8080 }],
    endpoints: Array.from({ length: count }, (_, i) => ({
      pod: `backend-${i}`,
      address: `10.0.0.${i + 2}`,
    })),
    ...over,
  };
}

function zoneWithBackend(options: { ttl?: number } = {}): DnsZone {
  const zone = new DnsZone({ name: ZONE, ...options });
  zone.setService("default/backend-svc", serviceRecords(backend()));
  return zone;
}

const data = (records: DnsRecord[]) => records.map((r) => r.data);
const names = (records: DnsRecord[]) => records.map((r) => r.name);

Deno.test("serviceRecords() makes service, pod and SRV records for named ports", () => {
  const records = serviceRecords(backend(2, {
    ports: [
      { name: "hello", protocol: "TCP", port: 8080 },
      { name: "Metrics", protocol: "UDP", port: 9000 },
      { protocol: "TCP", port: 7000 },
      { name: "ping", protocol: "ICMP", port: 0 },
    ],
  }));
  assert.deepEqual(records.a, [
    { name: "backend-svc.default.milpa.local", address: "10.0.0.2" },
    { name: "backend-svc.default.milpa.local", address: "10.0.0.3" },
    { name: "backend-0.backend-svc.default.milpa.local", address: "10.0.0.2" },
    { name: "backend-1.backend-svc.default.milpa.local", address: "10.0.0.3" },
  ]);
  assert.deepEqual(
    records.srv,
    [
      ["_hello._tcp", 8080, 0],
      ["_hello._tcp", 8080, 1],
      ["_metrics._udp", 9000, 0],
      ["_metrics._udp", 9000, 1],
    ].map(([prefix, port, i]) => ({
      name: `${prefix}.backend-svc.default.milpa.local`,
      priority: 0,
      weight: SRV_WEIGHT,
      port: port as number,
      target: `backend-${i}.backend-svc.default.milpa.local`,
    })),
  );
});

Deno.test("serviceRecords() carries its ttl and names a pod whose name is too long by address", () => {
  const records = serviceRecords({
    ...backend(0),
    ttl: 5,
    endpoints: [{ pod: "p".repeat(64), address: "10.0.0.9" }],
  });
  assert.deepEqual(records.a[1], {
    name: "10-0-0-9.backend-svc.default.milpa.local",
    address: "10.0.0.9",
    ttl: 5,
  });
  assert.deepEqual(records.srv[0].target, "10-0-0-9.backend-svc.default.milpa.local");
  assert.deepEqual(records.srv[0].ttl, 5);
});

Deno.test("DnsZone.answer() gives every endpoint of a service for A, authoritatively", () => {
  const reply = zoneWithBackend().answer({ name: "backend-svc.default.milpa.local", type: "A" });
  assert.deepEqual(reply.rcode, "NOERROR");
  assert.deepEqual(reply.authoritative, true);
  assert.deepEqual(data(reply.answers), ["10.0.0.2", "10.0.0.3", "10.0.0.4"]);
  assert.deepEqual(
    reply.answers.map((r) => [r.type, r.class, r.ttl]),
    Array(3).fill(["A", "IN", 30]),
  );
  assert.deepEqual(reply.authorities, []);
  assert.deepEqual(reply.additionals, []);
});

Deno.test("DnsZone.answer() gives SRV records with their targets' A records as additionals", () => {
  const reply = zoneWithBackend().answer({
    name: "_hello._tcp.backend-svc.default.milpa.local",
    type: "SRV",
  });
  assert.deepEqual(reply.rcode, "NOERROR");
  assert.deepEqual(reply.answers.length, 3);
  assert.deepEqual(
    data(reply.answers),
    [0, 1, 2].map((i) => ({
      priority: 0,
      weight: 10,
      port: 8080,
      target: `backend-${i}.backend-svc.default.milpa.local`,
    })),
  );
  assert.deepEqual(reply.additionals.length, 3);
  assert.deepEqual(
    reply.additionals.map((r) => [r.type, r.name, r.data]),
    [0, 1, 2].map((i) => ["A", `backend-${i}.backend-svc.default.milpa.local`, `10.0.0.${i + 2}`]),
  );
});

Deno.test("DnsZone.answer() gives A and SRV for ANY, with SRV targets as additionals", () => {
  const zone = new DnsZone({ name: ZONE });
  zone.setService("a/x", {
    a: [{ name: "both.a.milpa.local", address: "10.0.0.7" }],
    srv: [{
      name: "both.a.milpa.local",
      priority: 1,
      weight: 2,
      port: 3,
      target: "t.a.milpa.local",
    }],
  });
  zone.setService("a/t", { a: [{ name: "t.a.milpa.local", address: "10.0.0.8" }], srv: [] });
  const reply = zone.answer({ name: "both.a.milpa.local", type: "ANY" });
  assert.deepEqual(reply.answers.map((r) => r.type), ["A", "SRV"]);
  assert.deepEqual(data(reply.additionals), ["10.0.0.8"]);
});

Deno.test("DnsZone.answer() ignores case and a trailing dot, and answers with the name as asked", () => {
  const zone = zoneWithBackend();
  const reply = zone.answer({ name: "BACKEND-svc.Default.MILPA.local.", type: "A" });
  assert.deepEqual(reply.rcode, "NOERROR");
  assert.deepEqual(names(reply.answers), Array(3).fill("BACKEND-svc.Default.MILPA.local"));
  const srv = zone.answer({ name: "_HELLO._TCP.backend-svc.default.milpa.local", type: "SRV" });
  assert.deepEqual(srv.answers.length, 3);
  assert.deepEqual(srv.additionals.length, 3);
  const mixed = new DnsZone({ name: "Milpa.Local." });
  mixed.setService("default/backend-svc", serviceRecords({ ...backend(), zone: "MILPA.local" }));
  assert.deepEqual(
    mixed.answer({ name: "backend-svc.default.milpa.local", type: "A" }).answers.length,
    3,
  );
});

Deno.test("DnsZone.answer() gives NXDOMAIN with the SOA for a name that does not exist", () => {
  const zone = zoneWithBackend({ ttl: 20 });
  for (const name of ["nope.default.milpa.local", "x.backend-svc.default.milpa.local"]) {
    const reply = zone.answer({ name, type: "A" });
    assert.deepEqual(reply.rcode, "NXDOMAIN");
    assert.deepEqual(reply.authoritative, true);
    assert.deepEqual(reply.answers, []);
    assert.deepEqual(reply.authorities.length, 1);
    const soa = reply.authorities[0];
    assert.deepEqual([soa.type, soa.name, soa.ttl], ["SOA", "milpa.local", 20]);
    if (soa.type === "SOA") assert.deepEqual(soa.data.minimum, 20);
  }
});

Deno.test("DnsZone.answer() gives NODATA with the SOA for a name without the type asked", () => {
  const zone = zoneWithBackend();
  const questions = [
    { name: "backend-svc.default.milpa.local", type: "AAAA" },
    { name: "backend-svc.default.milpa.local", type: "TXT" },
    { name: "backend-svc.default.milpa.local", type: "SRV" },
    { name: "backend-svc.default.milpa.local", type: "UNKNOWN_65" },
    { name: "_hello._tcp.backend-svc.default.milpa.local", type: "A" },
    { name: "_tcp.backend-svc.default.milpa.local", type: "SRV" }, // an empty non-terminal
    { name: "default.milpa.local", type: "A" }, // the namespace, an empty non-terminal too
    { name: "milpa.local", type: "A" },
  ];
  for (const q of questions) {
    const reply = zone.answer(q);
    assert.deepEqual(
      [reply.rcode, reply.authoritative, reply.answers],
      ["NOERROR", true, []],
      q.name,
    );
    assert.deepEqual(reply.authorities.map((r) => r.type), ["SOA"]);
  }
});

Deno.test("DnsZone.answer() refuses names outside the zone, other classes and zone transfers", () => {
  const zone = zoneWithBackend();
  const questions = [
    { name: "example.com", type: "A" },
    { name: "backend-svc.default.milpa.local.example.com", type: "A" },
    { name: "xmilpa.local", type: "A" },
    { name: "local", type: "SOA" },
    { name: "", type: "NS" },
    { name: "version.bind", type: "TXT", class: "CH" },
    { name: "backend-svc.default.milpa.local", type: "A", class: "CH" },
  ];
  for (const q of questions) {
    const reply = zone.answer(q);
    assert.deepEqual(
      [reply.rcode, reply.authoritative, reply.answers, reply.authorities],
      ["REFUSED", false, [], []],
      q.name,
    );
  }
  assert.deepEqual(zone.answer({ name: "milpa.local", type: "AXFR" }).rcode, "REFUSED");
});

Deno.test("DnsZone.answer() answers SOA and NS at the apex, with the name server's address", () => {
  const zone = new DnsZone({ name: ZONE, ttl: 15, nameserverAddress: "10.0.0.1" });
  const soa = zone.answer({ name: "milpa.local", type: "SOA" });
  assert.deepEqual([soa.rcode, soa.authoritative, soa.answers.length], ["NOERROR", true, 1]);
  assert.deepEqual(soa.answers[0].data, {
    mname: "ns.milpa.local",
    rname: "hostmaster.milpa.local",
    serial: zone.soa.data.serial,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum: 15,
  });
  const ns = zone.answer({ name: "MILPA.local", type: "NS" });
  assert.deepEqual(ns.answers, [
    { name: "MILPA.local", type: "NS", class: "IN", ttl: 15, data: "ns.milpa.local" },
  ]);
  assert.deepEqual(ns.additionals, [
    { name: "ns.milpa.local", type: "A", class: "IN", ttl: 15, data: "10.0.0.1" },
  ]);
  assert.deepEqual(data(zone.answer({ name: "ns.milpa.local", type: "A" }).answers), ["10.0.0.1"]);
});

Deno.test("DnsZone.setService() keeps services that share nothing apart", () => {
  const zone = zoneWithBackend();
  zone.setService(
    "db/mongo",
    serviceRecords({
      service: "mongo",
      namespace: "db",
      zone: ZONE,
      ports: [{ name: "mongo", protocol: "TCP", port: 27017 }],
      endpoints: [{ pod: "mongo-0", address: "10.0.1.2" }],
    }),
  );
  assert.deepEqual(data(zone.answer({ name: "mongo.db.milpa.local", type: "A" }).answers), [
    "10.0.1.2",
  ]);
  assert.deepEqual(
    zone.answer({ name: "backend-svc.default.milpa.local", type: "A" }).answers.length,
    3,
  );
  zone.removeService("db/mongo");
  assert.deepEqual(zone.answer({ name: "mongo.db.milpa.local", type: "A" }).rcode, "NXDOMAIN");
  assert.deepEqual(
    zone.answer({ name: "_mongo._tcp.mongo.db.milpa.local", type: "SRV" }).rcode,
    "NXDOMAIN",
  );
  assert.deepEqual(zone.answer({ name: "db.milpa.local", type: "A" }).rcode, "NXDOMAIN");
  assert.deepEqual(
    zone.answer({ name: "backend-svc.default.milpa.local", type: "A" }).answers.length,
    3,
  );
});

Deno.test("DnsZone merges records several services give one name, and removes exactly one's", () => {
  const zone = new DnsZone({ name: ZONE });
  const pod = "web-0.pods.default.milpa.local";
  zone.setService("default/a", { a: [{ name: pod, address: "10.0.0.5" }], srv: [] });
  zone.setService("default/b", {
    a: [{ name: pod, address: "10.0.0.5" }, { name: pod, address: "10.0.0.6" }],
    srv: [],
  });
  assert.deepEqual(data(zone.answer({ name: pod, type: "A" }).answers), ["10.0.0.5", "10.0.0.6"]);
  zone.removeService("default/b");
  assert.deepEqual(data(zone.answer({ name: pod, type: "A" }).answers), ["10.0.0.5"]);
  zone.removeService("default/a");
  assert.deepEqual(zone.answer({ name: pod, type: "A" }).rcode, "NXDOMAIN");
  assert.deepEqual(zone.answer({ name: "pods.default.milpa.local", type: "A" }).rcode, "NXDOMAIN");
});

Deno.test("DnsZone.setService() replaces what the service gave before", () => {
  const zone = zoneWithBackend();
  const serial = zone.soa.data.serial;
  zone.setService("default/backend-svc", serviceRecords(backend(1)));
  const srv = zone.answer({ name: "_hello._tcp.backend-svc.default.milpa.local", type: "SRV" });
  assert.deepEqual(srv.answers.length, 1);
  assert.deepEqual(srv.additionals.length, 1);
  assert.deepEqual(
    zone.answer({ name: "backend-2.backend-svc.default.milpa.local", type: "A" }).rcode,
    "NXDOMAIN",
  );
  assert.deepEqual(zone.soa.data.serial > serial, true);
});

Deno.test("DnsZone.setService() rejects a bad record and keeps the old ones", () => {
  const zone = zoneWithBackend();
  const bad = [
    { a: [{ name: "x.example.com", address: "10.0.0.9" }], srv: [] },
    { a: [{ name: "milpa.local", address: "10.0.0.9" }], srv: [] },
    { a: [{ name: "x.default.milpa.local", address: "10.0.0.300" }], srv: [] },
    { a: [{ name: "x y.default.milpa.local", address: "10.0.0.9" }], srv: [] },
    {
      a: [],
      srv: [{
        name: "_a._tcp.x.milpa.local",
        priority: 0,
        weight: 0,
        port: 70000,
        target: "t.milpa.local",
      }],
    },
  ];
  for (const records of bad) {
    assert.throws(() => zone.setService("default/backend-svc", records), /default\/backend-svc/);
  }
  assert.deepEqual(
    zone.answer({ name: "backend-svc.default.milpa.local", type: "A" }).answers.length,
    3,
  );
});

Deno.test("DnsZone uses its ttl for records without their own", () => {
  const zone = new DnsZone({ name: ZONE, ttl: 7 });
  zone.setService("default/backend-svc", serviceRecords(backend()));
  zone.setService("default/short", serviceRecords({ ...backend(1), service: "short", ttl: 2 }));
  const ttls = (name: string) => zone.answer({ name, type: "A" }).answers.map((r) => r.ttl);
  assert.deepEqual(ttls("backend-svc.default.milpa.local"), [7, 7, 7]);
  assert.deepEqual(ttls("short.default.milpa.local"), [2]);
  assert.throws(() => new DnsZone({ name: ZONE, ttl: -1 }), /TTL/);
});
