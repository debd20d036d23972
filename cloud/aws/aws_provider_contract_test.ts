/**
 * The AWS provider passes the one `CloudProvider` contract suite, on the fakes of EC2, Route 53
 * and classic ELB (`services/fake_*.ts`): "the same state" of a reopened provider is the same
 * fakes, as a restarted controller finds the same AWS account.
 */
import type { IngressRule } from "../provider.ts";
import { providerContract, type ServiceObserver } from "../provider_contract.ts";
import { type FakeCloud, fakeCloud } from "./services/fake_cloud.ts";
import { ROLE_TAG, SERVICE_TAG, splitService, tagValue } from "./services/names.ts";
import { permissionsHeld } from "./services/rules.ts";

/** The service's group rules on the live instances that have the group, and its A records. */
function observer(c: FakeCloud): ServiceObserver {
  return {
    firewall: (service) => {
      const held = new Map<string, IngressRule[]>();
      const group = [...c.ec2.groups.values()].find((g) =>
        tagValue(g.Tags, SERVICE_TAG) === service && tagValue(g.Tags, ROLE_TAG) === "service"
      );
      if (!group) return Promise.resolve(held);
      const rules = permissionsHeld(group.IpPermissions).map((p): IngressRule => ({
        protocol: p.protocol.toUpperCase() as IngressRule["protocol"],
        port: p.from,
        portRangeSize: p.to - p.from + 1,
        source: p.source,
      }));
      for (const id of c.ec2.instances.keys()) {
        if (c.ec2.isAlive(id) && c.ec2.groupsOf(id).includes(group.GroupId!)) held.set(id, rules);
      }
      return Promise.resolve(held);
    },
    dnsAddresses: (service) => {
      const { namespace, name } = splitService(service);
      const fqdn = `${name}.${namespace}.test.local.`;
      return Promise.resolve(
        [...c.route53.zones.values()].flatMap((z) => z.records)
          .filter((r) => r.Name === fqdn && r.Type === "A")
          .flatMap((r) => (r.ResourceRecords ?? []).map((v) => v.Value!)),
      );
    },
  };
}

providerContract("AwsProvider", () => {
  const c = fakeCloud();
  return Promise.resolve({
    provider: c.provider(),
    reopen: () => Promise.resolve(c.provider()),
    observe: observer(c),
    cleanup: () => Promise.resolve(),
  });
});
