/** Every CloudProvider implementation passes the one contract suite. */
import assert from "node:assert/strict";
import { LocalProvider, type LocalProviderOptions } from "./local/local_provider.ts";
import type { IngressRule } from "./provider.ts";
import { launchRequest, providerContract, type ServiceObserver } from "./provider_contract.ts";
import { SimProvider } from "./sim/sim_provider.ts";
import { SimInstanceStore } from "../store/sim_instances.ts";

/**
 * A stand-in agent: a shell that keeps the appended `--config <file>` in its command line
 * (the provider looks for it in /proc/<pid>/cmdline) and waits on a child. On SIGTERM it
 * kills the child too (it may have been forked just after the group got the signal), reaps
 * it and exits, so nothing is left behind.
 */
const STAND_IN = [
  "sh",
  "-c",
  "trap 'kill $! 2>/dev/null; wait; exit 0' TERM; sleep 300 & wait; : \"$@\"",
  "stand-in",
];

/** The sim's record of what it holds for a service. */
function simObserver(sim: SimProvider): ServiceObserver {
  return {
    firewall: (service) => {
      const fw = sim.services.get(service)?.firewall;
      return Promise.resolve(new Map((fw?.instances ?? []).map((id) => [id, fw!.rules])));
    },
    dnsAddresses: (service) =>
      Promise.resolve((sim.services.get(service)?.dns?.endpoints ?? []).map((e) => e.address)),
  };
}

/** The local cloud's rules on its nodes' networks and the answers of its DNS zone. */
function localObserver(local: LocalProvider): ServiceObserver {
  return {
    firewall: async (service) => {
      const held = new Map<string, IngressRule[]>();
      for (const node of await local.network.attached()) {
        const rules = (await local.network.rules(node)).get(service);
        if (rules) held.set(node, rules);
      }
      return held;
    },
    dnsAddresses: (service) => {
      const [namespace, name] = service.split("/");
      const { answers } = local.zone.answer({
        name: `${name}.${namespace}.${local.zone.name}`,
        type: "A",
      });
      return Promise.resolve(answers.flatMap((a) => a.type === "A" ? [a.data] : []));
    },
  };
}

// Sim: instances live in the provider object, so "the same state" is the same object.
providerContract("SimProvider", () => {
  const provider = new SimProvider();
  return Promise.resolve({
    provider,
    observe: simObserver(provider),
    cleanup: () => Promise.resolve(provider.reset()),
    crash: (id) => Promise.resolve(provider.exit(id, "crashed")),
  });
});

// The user-facing sim (cloud.sim): "the same state" is the same KV.
providerContract("SimProvider on KV", async () => {
  const kv = await Deno.openKv(":memory:");
  const open = () => SimProvider.open({ store: new SimInstanceStore(kv), record: false });
  const provider = await open();
  await provider.startAgents();
  return {
    provider,
    observe: simObserver(provider),
    servicesEndWithClose: "the simulated cloud keeps only instances in KV; the Service actors " +
      "sync the rest again after a restart",
    reopen: open,
    crash: (id) => Promise.resolve(provider.exit(id, "crashed")),
    cleanup: () => {
      provider.reset();
      kv.close();
      return Promise.resolve();
    },
  };
});

// Local: "the same state" is the same home directory and controller id.
let range = 0;
providerContract("LocalProvider", async () => {
  const home = await Deno.makeTempDir({ prefix: "milpa-contract-" });
  const options: LocalProviderOptions = {
    home,
    controllerId: "contract",
    addressRange: `127.99.${++range}.0/24`,
    agentCommand: STAND_IN,
    terminateGraceMs: 500,
  };
  const provider = new LocalProvider(options);
  return {
    provider,
    observe: localObserver(provider),
    servicesEndWithClose: "the DNS zone and load balancers (and, on the host network, the " +
      "rules) live in the controller process; the Service actors sync them again after a restart",
    reopen: () => Promise.resolve(new LocalProvider(options)),
    crash: async (id) => {
      const rec = JSON.parse(await Deno.readTextFile(`${home}/instances/${id}/instance.json`));
      Deno.kill(-rec.pid, "SIGKILL");
    },
    cleanup: async () => {
      const p = new LocalProvider(options);
      for (const i of await p.listInstances()) await p.terminate(i.id);
      await Deno.remove(home, { recursive: true });
    },
  };
});

Deno.test({
  name: "SimProvider with launch latency makes one instance for concurrent launches with one token",
  fn: async () => {
    const sim = new SimProvider({ launchLatencyMs: 5 });
    try {
      const [a, b] = await Promise.all([
        sim.launch(launchRequest("node-a")),
        sim.launch(launchRequest("node-a")),
      ]);
      assert.equal(b.id, a.id);
      assert.equal((await sim.listInstances()).length, 1);
    } finally {
      sim.reset();
    }
  },
});
