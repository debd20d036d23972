/** Every CloudProvider implementation passes the one contract suite. */
import assert from "node:assert/strict";
import { LocalProvider, type LocalProviderOptions } from "./local/local_provider.ts";
import { launchRequest, providerContract } from "./provider_contract.ts";
import { SimProvider } from "./sim/sim_provider.ts";

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

// Sim: instances live in the provider object, so "the same state" is the same object.
providerContract("SimProvider", () => {
  const provider = new SimProvider();
  return Promise.resolve({
    provider,
    cleanup: () => Promise.resolve(provider.reset()),
    crash: (id) => Promise.resolve(provider.exit(id, "crashed")),
  });
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
  return {
    provider: new LocalProvider(options),
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
