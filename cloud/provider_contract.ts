/**
 * The `CloudProvider` contract (see the JSDoc of `provider.ts`) as one reusable test suite.
 * Every implementation registers it once, e.g. in `cloud/provider_contract_test.ts`:
 *
 * ```ts
 * providerContract("SimProvider", () => {
 *   const provider = new SimProvider();
 *   return Promise.resolve({ provider, observe: simObserver(provider), cleanup });
 * });
 * ```
 *
 * Each test gets a fresh provider from `make` and calls `close()` and `cleanup()` after it. The
 * service-networking half of the suite (firewall rules, DNS records, load balancers, listing and
 * deleting a service's resources) is in `provider_contract_services.ts`; the fixture's `observe`
 * reads back what the cloud holds. The AWS provider registers it on its fakes in
 * `cloud/aws/aws_provider_contract_test.ts`.
 */
import assert from "node:assert/strict";
import type { CloudProvider, Instance, InstanceExit, LaunchRequest } from "./provider.ts";
import { type ServiceFixture, serviceNetworkingContract } from "./provider_contract_services.ts";

export type { ServiceObserver } from "./provider_contract_services.ts";

/** A provider under test and how to get rid of it. */
export interface ProviderFixture extends ServiceFixture {
  provider: CloudProvider;
  /** Terminates whatever the test left running and removes its state (temp dirs). */
  cleanup: () => Promise<void>;
  /**
   * A new provider over the same state, as a restarted controller would build it. What "same
   * state" means is the implementation's: for local, a new `LocalProvider` with the same home
   * and controller id; for sim, whose instances live in the provider object itself, the same
   * object after `close()`; for AWS, a new `AwsProvider` over the same fakes. Absent: the same
   * object.
   */
  reopen?: () => Promise<CloudProvider>;
  /**
   * Makes an instance stop on its own, as a crash would: for local, SIGKILL to its agent's
   * process group; for sim, `exit()`. Given exactly when the provider has `onInstanceExit`
   * (without both, the exit tests do nothing).
   */
  crash?: (instanceId: string) => Promise<void>;
}

/** A launch request for a node named `token`, with the token as its client token. */
export function launchRequest(
  token: string,
  overrides: Partial<LaunchRequest> = {},
): LaunchRequest {
  return {
    clientToken: token,
    nodeName: token,
    instanceType: "t3.nano",
    spot: false,
    privateIPOnly: false,
    volumeSizeGiB: 8,
    agent: { controllerURL: "http://127.0.0.1:1", nodeName: token, token: `token-${token}` },
    ...overrides,
  };
}

function addressesOf(i: Instance): string[] {
  return i.addresses.map((a) => a.address);
}

function ids(list: Instance[]): string[] {
  return list.map((i) => i.id).sort();
}

/** `p`, or a rejection naming `what` after `ms` (an exit that never comes fails, not hangs). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The provider's `onInstanceExit` and the fixture's `crash`; undefined when it has neither. */
function exitHooks(f: ProviderFixture) {
  const { provider, crash } = f;
  if (!provider.onInstanceExit && !crash) return undefined;
  assert.ok(provider.onInstanceExit, "a provider whose fixture can crash() has onInstanceExit()");
  assert.ok(crash, "a fixture whose provider has onInstanceExit() can crash() an instance");
  return { onInstanceExit: provider.onInstanceExit.bind(provider), crash };
}

/** Registers the contract tests for one implementation; `name` prefixes every test name. */
export function providerContract(
  name: string,
  make: () => Promise<ProviderFixture>,
): void {
  const test = (title: string, fn: (f: ProviderFixture) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, async () => {
      const f = await make();
      try {
        await fn(f);
      } finally {
        await f.provider.close();
        await f.cleanup();
      }
    });

  test("launch() returns an instance with an id, the node name, the type and an address", async ({ provider }) => {
    const req = launchRequest("node-a", { instanceType: "c5.large" });
    const i = await provider.launch(req);
    assert.equal(typeof i.id, "string");
    assert.ok(i.id.length > 0, "instance id is not empty");
    assert.equal(i.nodeName, "node-a");
    assert.equal(i.instanceType, "c5.large");
    assert.notEqual(i.state, "terminated");
    assert.ok(i.addresses.length >= 1, "at least one address");
    for (const a of i.addresses) assert.ok(a.address.length > 0, `address of type ${a.type}`);
    assert.equal(typeof i.launchedAt, "number");
  });

  test("launch() with a client token already used returns the first instance", async ({ provider }) => {
    const first = await provider.launch(launchRequest("node-a"));
    const again = await provider.launch(launchRequest("node-a"));
    assert.equal(again.id, first.id);
    assert.deepEqual(addressesOf(again), addressesOf(first));
    assert.deepEqual(ids(await provider.listInstances()), [first.id]);
  });

  test("concurrent launches with one client token make one instance", async ({ provider }) => {
    const [a, b, c] = await Promise.all([
      provider.launch(launchRequest("node-a")),
      provider.launch(launchRequest("node-a")),
      provider.launch(launchRequest("node-a")),
    ]);
    assert.equal(b.id, a.id);
    assert.equal(c.id, a.id);
    assert.deepEqual(ids(await provider.listInstances()), [a.id]);
  });

  test("launches with distinct client tokens get distinct ids and addresses", async ({ provider }) => {
    const launched = await Promise.all(
      ["node-a", "node-b", "node-c"].map((t) => provider.launch(launchRequest(t))),
    );
    assert.equal(new Set(launched.map((i) => i.id)).size, 3);
    const all = launched.flatMap(addressesOf);
    assert.equal(new Set(all).size, all.length, `addresses ${all.join(", ")} are distinct`);
    assert.deepEqual(launched.map((i) => i.nodeName), ["node-a", "node-b", "node-c"]);
  });

  test("listInstances() includes launched instances and excludes terminated ones", async ({ provider }) => {
    assert.deepEqual(await provider.listInstances(), []);
    const a = await provider.launch(launchRequest("node-a"));
    const b = await provider.launch(launchRequest("node-b"));
    assert.deepEqual(ids(await provider.listInstances()), ids([a, b]));
    await provider.terminate(a.id);
    const left = await provider.listInstances();
    assert.deepEqual(ids(left), [b.id]);
    assert.equal(left[0].nodeName, "node-b");
    assert.deepEqual(addressesOf(left[0]), addressesOf(b));
  });

  test("terminate() is safe to repeat and ignores unknown ids", async ({ provider }) => {
    const a = await provider.launch(launchRequest("node-a"));
    const b = await provider.launch(launchRequest("node-b"));
    await provider.terminate(a.id);
    await provider.terminate(a.id);
    await provider.terminate("i-0000000000000unknown");
    await Promise.all([provider.terminate(b.id), provider.terminate(b.id)]);
    assert.deepEqual(await provider.listInstances(), []);
  });

  test("instances survive close(): a new provider over the same state lists them", async (f) => {
    const a = await f.provider.launch(launchRequest("node-a"));
    const b = await f.provider.launch(launchRequest("node-b"));
    await f.provider.close();
    const reopened = f.reopen ? await f.reopen() : f.provider;
    try {
      const listed = await reopened.listInstances();
      assert.deepEqual(ids(listed), ids([a, b]));
      for (const i of listed) assert.notEqual(i.state, "terminated");
      // A launch repeated after the restart finds the first instance.
      const again = await reopened.launch(launchRequest("node-a"));
      assert.equal(again.id, a.id);
      assert.deepEqual(addressesOf(again), addressesOf(a));
      assert.equal((await reopened.listInstances()).length, 2);
    } finally {
      if (reopened !== f.provider) await reopened.close();
    }
  });

  test("onInstanceExit() reports an instance that stops on its own, not one terminate() ended", async (f) => {
    const hooks = exitHooks(f);
    if (!hooks) return;
    const ended = await f.provider.launch(launchRequest("node-a"));
    const crashed = await f.provider.launch(launchRequest("node-b"));
    const exits: InstanceExit[] = [];
    const reported = new Promise<void>((resolve) =>
      hooks.onInstanceExit((e) => {
        exits.push(e);
        resolve();
      })
    );
    await f.provider.terminate(ended.id);
    // An exit of the terminated instance would be reported by now, ahead of the crash's.
    await hooks.crash(crashed.id);
    await within(reported, 10_000, "exit reported");
    assert.deepEqual(
      exits.map(({ instanceId, nodeName }) => ({ instanceId, nodeName })),
      [{ instanceId: crashed.id, nodeName: "node-b" }],
    );
    assert.ok(exits[0].reason.trim() !== "", "the exit says what happened");
  });

  test("onInstanceExit() stops calling a listener once unsubscribed", async (f) => {
    const hooks = exitHooks(f);
    if (!hooks) return;
    const i = await f.provider.launch(launchRequest("node-a"));
    const heard: InstanceExit[] = [];
    const stop = hooks.onInstanceExit((e) => heard.push(e));
    const reported = new Promise<InstanceExit>((resolve) => hooks.onInstanceExit(resolve));
    stop();
    await hooks.crash(i.id);
    // Listeners are called together: the one still subscribed hearing it means the other would have.
    assert.equal((await within(reported, 10_000, "exit reported")).instanceId, i.id);
    assert.deepEqual(heard, []);
  });

  serviceNetworkingContract(test, launchRequest);
}
