import assert from "node:assert/strict";
import { rule, withMoto } from "./moto_harness.ts";

withMoto(
  "AwsServices.listServices() finds groups, records and ELBs of its controller",
  async (m) => {
    const services = m.services();
    const other = m.services({ controllerId: "other", clusterName: "other" });
    await services.syncFirewall("ns1/fw", [rule(80, "VPC")], [m.instances[0]]);
    await services.syncDns("ns2/dns", [], [{ pod: "p", address: "172.31.0.5" }]);
    await services.syncLoadBalancer(
      "ns3/lb",
      { listeners: [{ port: 80, nodePort: 30080 }], sourceRanges: ["VPC"], annotations: {} },
      [],
    );
    await other.syncFirewall("ns4/theirs", [rule(80, "VPC")], [m.instances[1]]);
    await services.syncFirewall("ns5/none", [rule(80, "VPC")], []);
    assert.deepStrictEqual(await services.listServices(), ["ns1/fw", "ns2/dns", "ns3/lb"]);
    assert.deepStrictEqual(await other.listServices(), ["ns4/theirs"]);
    for (const s of ["ns1/fw", "ns2/dns", "ns3/lb"]) await services.deleteService(s);
    assert.deepStrictEqual(await services.listServices(), []);
    assert.deepStrictEqual(await other.listServices(), ["ns4/theirs"]);
  },
);
