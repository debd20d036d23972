/** The pod machine on fake effects: a recorded `send`, a dispatch the test settles, a manual clock. */
import assert from "node:assert/strict";
import { type Actor, waitFor } from "xstate";
import { isoTime, sleep } from "../model/clock.ts";
import { newPodStatus, type RestartPolicy, type UnitStatus } from "../model/pod.ts";
import { MachineHarness, withHarness as withAny } from "./machine_harness.ts";
import {
  ALLOWED_START_FAILURES,
  type BoundNode,
  createPodMachine,
  type DispatchResult,
  launchRetryDelayMs,
  type PodDeps,
  type PodMachine,
  podStatusOf,
} from "./pod_machine.ts";

type Dispatch = PromiseWithResolvers<DispatchResult> & {
  input: Parameters<PodDeps["dispatch"]>[0];
};

const POD = "default/web";
const UNITS: DispatchResult = { units: ["main"], initUnits: [] };

/** Fake effects and the actors started on them. */
class Harness extends MachineHarness<PodMachine> {
  readonly dispatches: Dispatch[] = [];
  /** Stops asked for, each settled by the test. */
  readonly stops: (PromiseWithResolvers<void> & { node: string })[] = [];
  /** Whether the pod backs a Service (then it drains for drainMs). */
  backsService = true;
  readonly machine: PodMachine;

  constructor(
    opts: {
      healthyTimeoutMs?: number;
      watchdogPeriodMs?: number;
      drainMs?: number;
      maxLaunchAttempts?: number;
    } = {},
  ) {
    super(opts.watchdogPeriodMs);
    this.machine = createPodMachine({
      clock: this.clock,
      send: this.send,
      dispatch: (input) => {
        const d = { ...Promise.withResolvers<DispatchResult>(), input };
        this.dispatches.push(d);
        return d.promise;
      },
      event: this.record,
      drain: async ({ until }, signal) => {
        if (this.backsService) await sleep(this.clock, until - this.clock.now(), signal);
      },
      stopUnits: ({ node }) => {
        const s = { ...Promise.withResolvers<void>(), node };
        this.stops.push(s);
        return s.promise;
      },
      healthyTimeoutMs: opts.healthyTimeoutMs ?? 60_000,
      drainMs: opts.drainMs ?? 0,
      maxLaunchAttempts: opts.maxLaunchAttempts ?? 5,
    });
  }

  /**
   * Starts a pod actor (or restores one from a persisted snapshot); `since`: when the pod was
   * created, as the supervisor passes it for a pod still Waiting.
   */
  start(restartPolicy: RestartPolicy = "Always", snapshot?: unknown, since?: number) {
    return this.startActor(
      { namespace: "default", name: "web", uid: "uid-1", restartPolicy, since },
      snapshot,
    );
  }

  lastDispatch(): Dispatch {
    return this.dispatches[this.dispatches.length - 1];
  }
}

function withHarness(
  fn: (h: Harness) => Promise<void> | void,
  opts?: ConstructorParameters<typeof Harness>[0],
): Promise<void> {
  return withAny(() => new Harness(opts), fn);
}

function node(name = "n1"): BoundNode {
  return { name, instanceId: `i-${name}`, addresses: [{ type: "PrivateIP", address: "10.0.0.2" }] };
}

const AT = "2026-01-01T00:00:00.000Z";
function running(name = "main"): UnitStatus {
  return { name, state: { running: { startedAt: AT } }, restartCount: 0 };
}
function exited(code: number, name = "main"): UnitStatus {
  return { name, state: { terminated: { exitCode: code, finishedAt: AT } }, restartCount: 0 };
}
function waiting(name = "main"): UnitStatus {
  return { name, state: { waiting: { reason: "Unit waiting" } }, restartCount: 0 };
}
function startFailure(name = "main"): UnitStatus {
  return {
    name,
    state: { waiting: { reason: "no such image", startFailure: true } },
    restartCount: 0,
  };
}

function agentStatus(unitStatuses: UnitStatus[], initUnitStatuses: UnitStatus[] = []) {
  return { type: "AGENT_STATUS" as const, podUid: "uid-1", unitStatuses, initUnitStatuses };
}

const top = (a: Actor<PodMachine>) => {
  const v = a.getSnapshot().value;
  return typeof v === "string" ? v : Object.keys(v)[0];
};

/** Binds a node and lets the dispatch succeed: the pod is Running on it. */
async function runOn(h: Harness, a: Actor<PodMachine>, n = node()): Promise<void> {
  a.send({ type: "NODE_BOUND", node: n });
  h.lastDispatch().resolve(UNITS);
  await waitFor(a, (s) => s.matches("Running"), { timeout: 2_000 });
}

Deno.test("pod machine starts Waiting and asks the pool for a node", async () => {
  await withHarness((h) => {
    const a = h.start();
    assert.equal(top(a), "Waiting");
    assert.deepEqual(h.toPool(), [{ type: "POD_WAITING", pod: POD }]);
    const status = podStatusOf(a.getSnapshot());
    assert.equal(status.phase, "Waiting");
    assert.equal(status.startFailures, 0);
    assert.equal(status.boundNodeName, undefined);
    assert.equal(status.lastPhaseChange, AT);
  });
});

Deno.test("a pod actor started for a pod as created publishes the status it was created with", async () => {
  await withHarness(async (h) => {
    const created = Date.parse(AT) - 5_000;
    const a = h.start("Always", undefined, created);
    // The same JSON: the store compares statuses as JSON and writes nothing when equal.
    assert.equal(
      JSON.stringify(podStatusOf(a.getSnapshot())),
      JSON.stringify(newPodStatus(isoTime(created))),
    );
    assert.equal("since" in a.getSnapshot().context, false, "not kept in the snapshot");
    // A later return to Waiting (a failed start, retried) is a phase change of its own.
    a.send({ type: "NODE_BOUND", node: node() });
    await h.clock.advance(1_000);
    h.lastDispatch().reject(new Error("no such image"));
    await waitFor(a, (s) => s.matches("Waiting") && s.context.startFailures === 1, {
      timeout: 2_000,
    });
    assert.equal(podStatusOf(a.getSnapshot()).lastPhaseChange, isoTime(Date.parse(AT) + 1_000));
  });
});

Deno.test("pod machine dispatches on NODE_BOUND and runs once the dispatch resolved", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    a.send({ type: "NODE_BOUND", node: node() });
    assert.equal(top(a), "Dispatching");
    assert.equal(podStatusOf(a.getSnapshot()).phase, "Dispatching");
    assert.deepEqual(h.dispatches.map((d) => d.input), [
      { namespace: "default", name: "web", node: node() },
    ]);
    await h.clock.advance(1_000);
    h.lastDispatch().resolve({ units: ["main", "side"], initUnits: ["setup"] });
    const s = await waitFor(a, (s) => s.matches({ Running: "Applied" }), { timeout: 2_000 });
    assert.deepEqual(s.context.unitNames, ["main", "side"]);
    assert.deepEqual(s.context.initUnitNames, ["setup"]);
    assert.deepEqual(
      s.context.unitStatuses.map((u) => [u.name, u.state.waiting?.reason]),
      [["main", "Initializing"], ["side", "Initializing"]],
    );
    assert.equal(s.context.lastPhaseChange, Date.parse(AT) + 1_000);
    assert.deepEqual(h.events.map((e) => e.status), ["pod-running"]);
    assert.deepEqual(h.toPool(), [{ type: "POD_WAITING", pod: POD }]);
  });
});

Deno.test("pod machine ignores AGENT_STATUS about another pod uid", async () => {
  await withHarness(async (h) => {
    const a = h.start("Never");
    await runOn(h, a);
    const before = a.getSnapshot().context;
    a.send({ ...agentStatus([exited(0)]), podUid: "uid-old" });
    a.send({ ...agentStatus([exited(0)]), podUid: undefined });
    assert.deepEqual(a.getSnapshot().context, before);
    assert.equal(top(a), "Running");
    a.send(agentStatus([running()]));
    assert.deepEqual(a.getSnapshot().context.unitStatuses, [running()]);
  });
});

// The phase a report implies, per model/pod_phase.ts, and where the actor goes.
const cases: {
  name: string;
  policy: RestartPolicy;
  units: UnitStatus[];
  init?: UnitStatus[];
  want: "Running" | "Succeeded" | "Failed" | "Waiting";
}[] = [
  {
    name: "units running under Always keep it Running",
    policy: "Always",
    units: [running()],
    want: "Running",
  },
  {
    name: "every unit exiting 0 under Never ends Succeeded",
    policy: "Never",
    units: [exited(0), exited(0, "side")],
    want: "Succeeded",
  },
  {
    name: "every unit exiting 0 under OnFailure ends Succeeded",
    policy: "OnFailure",
    units: [exited(0)],
    want: "Succeeded",
  },
  {
    name: "one unit still running under Never keeps it Running",
    policy: "Never",
    units: [exited(0), running("side")],
    want: "Running",
  },
  {
    name: "a non-zero exit under Never ends Failed",
    policy: "Never",
    units: [exited(1), running("side")],
    want: "Failed",
  },
  {
    name: "a non-zero exit under OnFailure keeps it Running (the agent restarts the unit)",
    policy: "OnFailure",
    units: [exited(1)],
    want: "Running",
  },
  {
    name: "a failing init unit under Never ends Failed",
    policy: "Never",
    init: [exited(2, "setup")],
    units: [waiting()],
    want: "Failed",
  },
  {
    name: "init units not done keep it Running",
    policy: "Never",
    init: [running("setup")],
    units: [waiting()],
    want: "Running",
  },
  {
    name: "an exited unit under Always fails the attempt and retries on a new node",
    policy: "Always",
    units: [exited(0)],
    want: "Waiting",
  },
];
for (const c of cases) {
  Deno.test(`pod machine: ${c.name}`, async () => {
    await withHarness(async (h) => {
      const a = h.start(c.policy);
      await runOn(h, a);
      a.send(agentStatus(c.units, c.init));
      const s = a.getSnapshot();
      assert.equal(top(a), c.want);
      assert.equal(podStatusOf(s).phase, c.want);
      const released = h.toPool().filter((e) => e.type === "POD_RELEASED");
      if (c.want === "Running") {
        assert.deepEqual(released, []);
      } else {
        assert.deepEqual(released, [{ type: "POD_RELEASED", pod: POD, node: "n1" }]);
      }
      if (c.want === "Succeeded" || c.want === "Failed") {
        assert.ok(s.hasTag("terminal"));
        assert.equal(h.events.at(-1)?.status, `pod-${c.want.toLowerCase()}`);
        assert.equal(h.toPool().filter((e) => e.type === "POD_WAITING").length, 1);
      }
    });
  });
}

Deno.test("pod machine records why a unit failed the pod and ends its other units", async () => {
  await withHarness(async (h) => {
    const a = h.start("Never");
    await runOn(h, a);
    await h.clock.advance(5_000);
    a.send(agentStatus([exited(3), running("side")]));
    const status = podStatusOf(a.getSnapshot());
    assert.equal(status.phase, "Failed");
    assert.equal(status.message, "unit main exited with code 3");
    assert.deepEqual(status.unitStatuses![0], exited(3));
    const side = status.unitStatuses![1];
    assert.deepEqual(side.state.terminated, {
      exitCode: 143,
      reason: "PodTerminated",
      message: "stopped with the pod's node",
      finishedAt: new Date(Date.parse(AT) + 5_000).toISOString(),
      startedAt: AT,
    });
    assert.deepEqual(side.lastState, running("side").state);
    assert.equal(side.ready, false);
    assert.equal(h.events.at(-1)?.type, "Warning");
  });
});

Deno.test("pod machine judges statuses reported while dispatching once the dispatch resolved", async () => {
  await withHarness(async (h) => {
    const a = h.start("Never");
    a.send({ type: "NODE_BOUND", node: node() });
    a.send(agentStatus([exited(0)]));
    assert.equal(top(a), "Dispatching");
    h.lastDispatch().resolve(UNITS);
    const s = await waitFor(a, (s) => s.matches("Succeeded"), { timeout: 2_000 });
    assert.deepEqual(s.context.unitStatuses, [exited(0)]);
  });
});

Deno.test("pod machine retries a start failure on a new node, three attempts in all", async () => {
  await withHarness(async (h) => {
    const a = h.start("Always");
    for (let attempt = 1; attempt <= ALLOWED_START_FAILURES + 1; attempt++) {
      await runOn(h, a, node(`n${attempt}`));
      assert.equal(podStatusOf(a.getSnapshot()).boundNodeName, `n${attempt}`);
      a.send(agentStatus([startFailure()]));
      const status = podStatusOf(a.getSnapshot());
      assert.equal(status.startFailures, attempt);
      assert.equal(status.message, "Start failure for unit main: no such image");
      const pool = h.toPool();
      if (attempt <= ALLOWED_START_FAILURES) {
        assert.equal(status.phase, "Waiting");
        assert.equal(status.boundNodeName, undefined, "the failed node is forgotten");
        assert.deepEqual(status.unitStatuses, []);
        assert.deepEqual(pool.slice(-2), [
          { type: "POD_RELEASED", pod: POD, node: `n${attempt}` },
          { type: "POD_WAITING", pod: POD },
        ]);
      } else {
        assert.equal(status.phase, "Failed");
        assert.deepEqual(pool.at(-1), { type: "POD_RELEASED", pod: POD, node: `n${attempt}` });
      }
    }
    assert.equal(h.dispatches.length, 3);
    assert.equal(h.toPool().filter((e) => e.type === "POD_WAITING").length, 3);
    assert.deepEqual(
      h.events.map((e) => e.status),
      ["pod-running", "pod-failed", "pod-running", "pod-failed", "pod-running", "pod-failed"],
    );
  });
});

Deno.test("pod machine does not retry a start failure under restartPolicy Never", async () => {
  await withHarness(async (h) => {
    const a = h.start("Never");
    await runOn(h, a);
    a.send(agentStatus([startFailure()]));
    assert.equal(top(a), "Failed");
    assert.equal(podStatusOf(a.getSnapshot()).startFailures, 1);
    assert.equal(h.toPool().filter((e) => e.type === "POD_WAITING").length, 1);
  });
});

Deno.test("pod machine counts a failed dispatch as a start failure and asks for a new node", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    a.send({ type: "NODE_BOUND", node: node() });
    h.lastDispatch().reject(new Error("agent did not connect"));
    const s = await waitFor(a, (s) => s.matches("Waiting"), { timeout: 2_000 });
    assert.equal(s.context.startFailures, 1);
    assert.equal(s.context.message, "dispatch to node n1 failed: agent did not connect");
    assert.deepEqual(h.toPool().slice(-2), [
      { type: "POD_RELEASED", pod: POD, node: "n1" },
      { type: "POD_WAITING", pod: POD },
    ]);
  });
});

Deno.test("pod machine resets start failures once every unit started", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await runOn(h, a, node("n1"));
    a.send(agentStatus([startFailure()]));
    await runOn(h, a, node("n2"));
    assert.equal(a.getSnapshot().context.startFailures, 1);
    a.send(agentStatus([running()]));
    assert.equal(a.getSnapshot().context.startFailures, 0);
  });
});

for (const from of ["Waiting", "Dispatching", "Running"] as const) {
  Deno.test(`pod machine DELETE in ${from} ends Terminated and releases the node`, async () => {
    await withHarness(async (h) => {
      const a = h.start();
      if (from === "Dispatching") a.send({ type: "NODE_BOUND", node: node() });
      if (from === "Running") await runOn(h, a);
      assert.equal(top(a), from);
      a.send({ type: "DELETE" });
      if (from === "Running") {
        // A running pod stops its units first (no drain: drainMs is 0 here).
        await h.clock.advance(0);
        assert.ok(a.getSnapshot().matches({ Leaving: "Stopping" }));
        h.stops[0].resolve();
        await waitFor(a, (s) => s.matches("Terminated"), { timeout: 2_000 });
      }
      assert.equal(top(a), "Terminated");
      assert.ok(a.getSnapshot().hasTag("terminal"));
      assert.deepEqual(h.toPool().at(-1), {
        type: "POD_RELEASED",
        pod: POD,
        node: from === "Waiting" ? undefined : "n1",
      });
      assert.equal(h.events.at(-1)?.status, "pod-terminated");
      // Nothing moves a terminated pod any more.
      a.send({ type: "NODE_BOUND", node: node("n2") });
      a.send(agentStatus([running()]));
      assert.equal(top(a), "Terminated");
    });
  });
}

Deno.test("pod machine NODE_LOST while Running retries on a new node without counting a start failure", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await runOn(h, a);
    a.send(agentStatus([running()]));
    a.send({ type: "NODE_LOST", reason: "node n1 went away" });
    const s = a.getSnapshot();
    assert.equal(top(a), "Waiting");
    assert.equal(s.context.startFailures, 0);
    assert.equal(s.context.message, "node n1 went away");
    assert.deepEqual(h.toPool().slice(-2), [
      { type: "POD_RELEASED", pod: POD, node: "n1" },
      { type: "POD_WAITING", pod: POD },
    ]);
  });
});

Deno.test("pod machine NODE_LOST while Dispatching counts a start failure and retries", async () => {
  await withHarness((h) => {
    const a = h.start();
    a.send({ type: "NODE_BOUND", node: node() });
    a.send({ type: "NODE_LOST", reason: "node n1 went away" });
    assert.equal(top(a), "Waiting");
    assert.equal(a.getSnapshot().context.startFailures, 1);
  });
});

Deno.test("pod machine NODE_LOST under restartPolicy Never fails the pod", async () => {
  await withHarness(async (h) => {
    const a = h.start("Never");
    await runOn(h, a);
    a.send({ type: "NODE_LOST", reason: "node n1 went away" });
    assert.equal(top(a), "Failed");
    assert.equal(podStatusOf(a.getSnapshot()).message, "node n1 went away");
  });
});

Deno.test("pod machine watchdog fails a Running pod with no status for healthyTimeoutMs", async () => {
  await withHarness(async (h) => {
    const a = h.start("Never");
    await runOn(h, a);
    await h.clock.advance(1_000);
    assert.equal(top(a), "Running", "exactly the timeout is not yet too long");
    await h.clock.advance(5);
    const s = await waitFor(a, (s) => s.matches("Failed"), { timeout: 2_000 });
    assert.equal(s.context.message, "no status from node n1 in 1s");
    assert.deepEqual(h.toPool().at(-1), { type: "POD_RELEASED", pod: POD, node: "n1" });
  }, { healthyTimeoutMs: 1_000, watchdogPeriodMs: 5 });
});

Deno.test("pod machine watchdog counts from the last status", async () => {
  await withHarness(async (h) => {
    const a = h.start("Never");
    await runOn(h, a);
    await h.clock.advance(800);
    a.send(agentStatus([running()]));
    await h.clock.advance(800);
    assert.equal(top(a), "Running");
    await h.clock.advance(205);
    await waitFor(a, (s) => s.matches("Failed"), { timeout: 2_000 });
  }, { healthyTimeoutMs: 1_000, watchdogPeriodMs: 5 });
});

Deno.test("pod machine watchdog timeout under Always retries on a new node", async () => {
  await withHarness(async (h) => {
    const a = h.start("Always");
    await runOn(h, a);
    await h.clock.advance(1_005);
    const s = await waitFor(a, (s) => s.matches("Waiting"), { timeout: 2_000 });
    assert.equal(s.context.node, undefined);
    assert.equal(h.toPool().filter((e) => e.type === "POD_WAITING").length, 2);
  }, { healthyTimeoutMs: 1_000, watchdogPeriodMs: 5 });
});

Deno.test("pod machine re-sends the pod when its agent reconnects, and stays Running if that fails", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await runOn(h, a);
    a.send({ type: "AGENT_CONNECTED" });
    assert.ok(a.getSnapshot().matches({ Running: "Reapplying" }));
    assert.equal(h.dispatches.length, 2);
    h.lastDispatch().resolve(UNITS);
    await waitFor(a, (s) => s.matches({ Running: "Applied" }), { timeout: 2_000 });

    a.send({ type: "SPEC_UPDATED" });
    assert.equal(h.dispatches.length, 3);
    h.lastDispatch().reject(new Error("not connected"));
    const s = await waitFor(a, (s) => s.matches({ Running: "Applied" }), { timeout: 2_000 });
    assert.equal(s.context.startFailures, 0);
    assert.deepEqual(h.events.map((e) => e.status), ["pod-running"]);
  });
});

Deno.test("podStatusOf() derives phase, node, addresses, start failures, unit statuses and readyTime", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await runOn(h, a);
    await h.clock.advance(2_000);
    a.send(agentStatus([running(), running("side")], [exited(0, "setup")]));
    assert.deepEqual(podStatusOf(a.getSnapshot()), {
      phase: "Running",
      lastPhaseChange: AT,
      readyTime: "2026-01-01T00:00:02.000Z",
      conditions: [{
        type: "Ready",
        status: "True",
        lastTransitionTime: "2026-01-01T00:00:02.000Z",
      }],
      boundNodeName: "n1",
      boundInstanceID: "i-n1",
      addresses: [{ type: "PrivateIP", address: "10.0.0.2" }],
      startFailures: 0,
      unitStatuses: [running(), running("side")],
      initUnitStatuses: [exited(0, "setup")],
    });
    // readyTime is the first time every unit ran; it does not move.
    await h.clock.advance(2_000);
    a.send(agentStatus([waiting(), running("side")], [exited(0, "setup")]));
    a.send(agentStatus([running(), running("side")], [exited(0, "setup")]));
    assert.equal(podStatusOf(a.getSnapshot()).readyTime, "2026-01-01T00:00:02.000Z");
    // The Ready condition follows readiness: it changed twice since.
    assert.deepEqual(podStatusOf(a.getSnapshot()).conditions, [
      { type: "Ready", status: "True", lastTransitionTime: "2026-01-01T00:00:04.000Z" },
    ]);
    a.send(agentStatus([{ ...running(), ready: false }, running("side")], [exited(0, "setup")]));
    assert.equal(podStatusOf(a.getSnapshot()).conditions?.[0].status, "False");
  });
});

Deno.test("podStatusOf() of a Terminated pod shows its running units terminated", async () => {
  await withHarness(async (h) => {
    const a = h.start("OnFailure");
    await runOn(h, a);
    a.send(agentStatus([running(), exited(0, "side")]));
    a.send({ type: "DELETE" });
    await h.clock.advance(0);
    h.stops[0].reject(new Error("node n1 is not connected"));
    const status = podStatusOf(
      await waitFor(a, (s) => s.matches("Terminated"), { timeout: 2_000 }),
    );
    assert.equal(status.phase, "Terminated");
    assert.equal(status.unitStatuses![0].state.terminated?.exitCode, 143);
    assert.equal(status.unitStatuses![0].state.terminated?.reason, "PodTerminated");
    assert.equal(status.unitStatuses![0].state.running, undefined);
    assert.deepEqual(status.unitStatuses![1], exited(0, "side"), "an exited unit keeps its exit");
  });
});

Deno.test("pod machine restored from a persisted Running snapshot is Running with the same context and re-sends nothing", async () => {
  await withHarness(async (h) => {
    const a = h.start("Never");
    await runOn(h, a);
    a.send(agentStatus([running()]));
    // The actor store keeps snapshots as JSON.
    const persisted = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    const before = a.getSnapshot();
    a.stop();
    const sentBefore = h.sent.length;
    const eventsBefore = h.events.length;

    const b = h.start("Never", persisted);
    const s = b.getSnapshot();
    assert.deepEqual(s.value, { Running: "Applied" });
    assert.deepEqual(s.context, JSON.parse(JSON.stringify(before.context)));
    assert.deepEqual(podStatusOf(s), podStatusOf(before));
    assert.equal(h.sent.length, sentBefore, "no POD_WAITING (entry actions are not re-run)");
    assert.equal(h.events.length, eventsBefore, "no second pod-running event");
    assert.equal(h.dispatches.length, 1);
    // The restored actor carries on.
    b.send(agentStatus([exited(0)]));
    assert.equal(top(b), "Succeeded");
    assert.deepEqual(h.toPool().at(-1), { type: "POD_RELEASED", pod: POD, node: "n1" });
  });
});

Deno.test("pod machine restored while Dispatching dispatches again", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    a.send({ type: "NODE_BOUND", node: node() });
    const persisted = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.stop();
    const b = h.start("Always", persisted);
    assert.equal(h.dispatches.length, 2);
    assert.deepEqual(h.lastDispatch().input.node, node());
    h.lastDispatch().resolve(UNITS);
    await waitFor(b, (s) => s.matches("Running"), { timeout: 2_000 });
    assert.equal(h.toPool().length, 1);
  });
});

Deno.test("pod machine takes a dispatch's outcome only for its node: a late one from a lost node is ignored", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    a.send({ type: "NODE_BOUND", node: node("n1") });
    const toLost = h.lastDispatch();
    a.send({ type: "NODE_LOST", reason: "node n1 went away" });
    a.send({ type: "NODE_BOUND", node: node("n2") });
    assert.equal(top(a), "Dispatching");
    assert.equal(h.dispatches.length, 2);
    toLost.reject(new Error("n1 is gone"));
    await new Promise((r) => setTimeout(r, 20));
    a.send({ type: "DISPATCHED", node: "n1", output: UNITS });
    assert.equal(top(a), "Dispatching", "n1's outcome does not decide n2's dispatch");
    assert.equal(a.getSnapshot().context.startFailures, 1, "only NODE_LOST counted");
    h.lastDispatch().resolve(UNITS);
    await waitFor(a, (s) => s.matches("Running"), { timeout: 2_000 });
    assert.equal(a.getSnapshot().context.node?.name, "n2");
  });
});

Deno.test("pod machine takes the end of a unit stop only for its node: a late one from an earlier node is ignored", async () => {
  await withHarness(async (h) => {
    h.backsService = false;
    const a = h.start();
    await runOn(h, a, node("n1"));
    a.send({ type: "EVICT", reason: "node n1 is being replaced" });
    await waitFor(a, (s) => s.matches({ Leaving: "Stopping" }), { timeout: 2_000 });
    const onN1 = h.stops[0];
    assert.equal(onN1.node, "n1");
    // n1 goes before its stop returns; the evicted pod runs on n2, and is deleted there.
    a.send({ type: "NODE_LOST", reason: "node n1 went away" });
    await runOn(h, a, node("n2"));
    a.send({ type: "DELETE" });
    await waitFor(a, (s) => s.matches({ Leaving: "Stopping" }), { timeout: 2_000 });
    assert.equal(h.stops.at(-1)!.node, "n2");
    onN1.resolve();
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(a.getSnapshot().matches({ Leaving: "Stopping" }), "n2's units are not stopped yet");
    h.stops.at(-1)!.resolve();
    await waitFor(a, (s) => s.matches("Terminated"), { timeout: 2_000 });
  });
});

Deno.test("pod machine restored from a snapshot with an invoked dispatch (before 2026-12-07) dispatches once", async () => {
  await withHarness(async (h) => {
    // As the pod machine stored it while its dispatch was an XState invoke (a child actor).
    const persisted = {
      status: "active",
      value: "Dispatching",
      historyValue: {},
      context: {
        namespace: "default",
        name: "web",
        uid: "uid-1",
        restartPolicy: "Always",
        startFailures: 0,
        unitNames: [],
        initUnitNames: [],
        unitStatuses: [],
        initUnitStatuses: [],
        lastPhaseChange: 1767225600000,
        node: node(),
        launchFailures: 0,
      },
      children: {
        "0.pod.Dispatching": {
          snapshot: {
            status: "active",
            input: { namespace: "default", name: "web", node: node() },
          },
          src: "dispatch",
          syncSnapshot: false,
        },
      },
    };
    const b = h.start("Always", persisted);
    assert.equal(h.dispatches.length, 1);
    assert.deepEqual(h.lastDispatch().input.node, node());
    h.lastDispatch().resolve(UNITS);
    const s = await waitFor(b, (s) => s.matches("Running"), { timeout: 2_000 });
    assert.deepEqual(s.context.unitNames, ["main"]);
    assert.deepEqual((b.getPersistedSnapshot() as { children?: unknown }).children, {});
  });
});

Deno.test("pod machine DELETE of a Running pod that backs a Service drains, then stops, then releases", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await runOn(h, a);
    a.send(agentStatus([running()]));
    assert.equal(podStatusOf(a.getSnapshot()).conditions?.[0].status, "True");
    a.send({ type: "DELETE" });
    assert.ok(a.getSnapshot().matches({ Leaving: "Draining" }));
    let status = podStatusOf(a.getSnapshot());
    assert.equal(status.phase, "Running", "it still runs while it drains");
    assert.equal(status.conditions?.[0].status, "False", "not ready: out of its services");
    assert.deepEqual(status.termination, {
      state: "Draining",
      since: AT,
      drainUntil: "2026-01-01T00:00:05.000Z",
      reason: "deleted",
    });
    // Statuses still come in while it drains, but do not make it ready again.
    a.send(agentStatus([running()]));
    assert.equal(podStatusOf(a.getSnapshot()).conditions?.[0].status, "False");
    await h.clock.advance(4_999);
    assert.ok(a.getSnapshot().matches({ Leaving: "Draining" }));
    assert.equal(h.stops.length, 0, "no SIGTERM before the drain ends");
    assert.ok(!h.toPool().some((e) => e.type === "POD_RELEASED"), "the node is kept");
    await h.clock.advance(1);
    assert.ok(a.getSnapshot().matches({ Leaving: "Stopping" }));
    status = podStatusOf(a.getSnapshot());
    assert.equal(status.termination?.state, "Stopping");
    assert.equal(status.termination?.drainUntil, undefined);
    assert.deepEqual(h.stops.map((s) => s.node), ["n1"]);
    assert.equal(h.events.at(-1)?.status, "pod-stopping");
    // The agent reports the units' real ends while they stop.
    a.send(agentStatus([exited(0)]));
    h.stops[0].resolve();
    const s = await waitFor(a, (s) => s.matches("Terminated"), { timeout: 2_000 });
    assert.equal(s.context.unitStatuses[0].state.terminated?.exitCode, 0, "the real exit code");
    assert.deepEqual(h.toPool().at(-1), { type: "POD_RELEASED", pod: POD, node: "n1" });
    assert.equal(podStatusOf(s).termination, undefined);
  }, { drainMs: 5_000 });
});

Deno.test("pod machine DELETE of a Running pod that backs no Service stops at once", async () => {
  await withHarness(async (h) => {
    h.backsService = false;
    const a = h.start();
    await runOn(h, a);
    a.send({ type: "DELETE" });
    await h.clock.advance(0);
    assert.ok(a.getSnapshot().matches({ Leaving: "Stopping" }));
    h.stops[0].reject(new Error("node n1 is not connected"));
    await waitFor(a, (s) => s.matches("Terminated"), { timeout: 2_000 });
    assert.equal(
      a.getSnapshot().context.unitStatuses[0].state.terminated?.reason,
      "PodTerminated",
      "units the agent did not report ended are shown ended with the pod",
    );
  }, { drainMs: 5_000 });
});

Deno.test("pod machine restored while Draining keeps its drain deadline; while Stopping stops again", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await runOn(h, a);
    a.send({ type: "DELETE" });
    const draining = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.stop();
    await h.clock.advance(3_000); // the controller was down
    const b = h.start("Always", draining);
    assert.ok(b.getSnapshot().matches({ Leaving: "Draining" }));
    await h.clock.advance(1_999);
    assert.ok(b.getSnapshot().matches({ Leaving: "Draining" }));
    await h.clock.advance(1);
    assert.ok(b.getSnapshot().matches({ Leaving: "Stopping" }));
    const stopping = JSON.parse(JSON.stringify(b.getPersistedSnapshot()));
    b.stop();
    const c = h.start("Always", stopping);
    assert.ok(c.getSnapshot().matches({ Leaving: "Stopping" }));
    assert.equal(
      h.stops.length,
      2,
      "the stop is asked for again (the agent applies it idempotently)",
    );
    h.stops[1].resolve();
    await waitFor(c, (s) => s.matches("Terminated"), { timeout: 2_000 });
  }, { drainMs: 5_000 });
});

Deno.test("pod machine NODE_LOST while draining ends the pod at once", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await runOn(h, a);
    a.send({ type: "DELETE" });
    a.send({ type: "NODE_LOST", reason: "node n1 went away" });
    assert.equal(top(a), "Terminated");
    assert.equal(h.stops.length, 0);
  }, { drainMs: 5_000 });
});

Deno.test("pod machine EVICT drains and stops the pod, then runs it on a new node", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await runOn(h, a);
    a.send({ type: "EVICT", reason: "node n1 is being terminated" });
    assert.ok(a.getSnapshot().matches({ Leaving: "Draining" }));
    assert.equal(podStatusOf(a.getSnapshot()).termination?.reason, "node n1 is being terminated");
    await h.clock.advance(5_000);
    h.stops[0].resolve();
    const s = await waitFor(a, (s) => s.matches("Waiting"), { timeout: 2_000 });
    assert.equal(s.context.node, undefined);
    assert.equal(s.context.startFailures, 0, "an eviction is not a start failure");
    assert.equal(podStatusOf(s).termination, undefined);
    assert.deepEqual(h.toPool().slice(-2), [
      { type: "POD_RELEASED", pod: POD, node: "n1" },
      { type: "POD_WAITING", pod: POD },
    ]);
    assert.match(
      h.events.find((e) => e.status === "pod-failed")?.message ?? "",
      /evicted: node n1/,
    );
  }, { drainMs: 5_000 });
});

Deno.test("pod machine DELETE while evicted ends Terminated instead of retrying", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await runOn(h, a);
    a.send({ type: "EVICT", reason: "node n1 is being terminated" });
    a.send({ type: "DELETE" });
    await h.clock.advance(5_000);
    h.stops[0].resolve();
    await waitFor(a, (s) => s.matches("Terminated"), { timeout: 2_000 });
  }, { drainMs: 5_000 });
});

Deno.test("pod machine backs off after a failed launch and fails after maxLaunchAttempts", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    const waits = () => h.toPool().filter((e) => e.type === "POD_WAITING").length;
    assert.equal(waits(), 1);
    const times: number[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      a.send({ type: "LAUNCH_FAILED", message: "InvalidAMIID.NotFound: no such image" });
      const status = podStatusOf(a.getSnapshot());
      assert.equal(status.phase, "Waiting");
      assert.equal(status.reason, "LaunchBackOff");
      assert.equal(status.launchFailures, attempt);
      assert.match(status.message ?? "", new RegExp(`attempt ${attempt} of 3.*no such image`));
      assert.equal(h.events.at(-1)?.type, "Warning");
      await h.clock.advance(launchRetryDelayMs(attempt) - 1);
      assert.equal(waits(), attempt, "no new request before the delay");
      await h.clock.advance(1);
      assert.equal(waits(), attempt + 1);
      assert.equal(podStatusOf(a.getSnapshot()).reason, undefined);
      times.push(h.clock.now());
    }
    a.send({ type: "LAUNCH_FAILED", message: "InvalidAMIID.NotFound: no such image" });
    assert.equal(top(a), "Failed");
    assert.equal(
      podStatusOf(a.getSnapshot()).message,
      "node launch failed 3 times: InvalidAMIID.NotFound: no such image",
    );
    assert.equal(h.events.at(-1)?.status, "pod-failed");
  }, { maxLaunchAttempts: 3 });
});

Deno.test("launchRetryDelayMs() is 10 s doubling to 5 min", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => launchRetryDelayMs(n)), [
    10_000,
    20_000,
    40_000,
    80_000,
    160_000,
    300_000,
    300_000,
  ]);
});

Deno.test("pod machine restored while backing off asks again at the same time", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    a.send({ type: "LAUNCH_FAILED", message: "boom" });
    const persisted = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.stop();
    await h.clock.advance(4_000);
    const b = h.start("Always", persisted);
    const before = h.toPool().length;
    await h.clock.advance(5_999);
    assert.equal(h.toPool().length, before);
    await h.clock.advance(1);
    assert.deepEqual(h.toPool().at(-1), { type: "POD_WAITING", pod: POD });
    assert.equal(podStatusOf(b.getSnapshot()).launchFailures, 1);
  });
});

Deno.test("pod machine shows why it waits for a node until it gets one", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    a.send({ type: "WAIT_REASON", reason: "NodeLimit", message: "waiting for a node: 5 of 5" });
    assert.equal(podStatusOf(a.getSnapshot()).reason, "NodeLimit");
    assert.equal(podStatusOf(a.getSnapshot()).message, "waiting for a node: 5 of 5");
    await runOn(h, a);
    assert.equal(podStatusOf(a.getSnapshot()).reason, undefined);
    assert.equal(podStatusOf(a.getSnapshot()).message, undefined);
  });
});

Deno.test("pod machine keeps load balancer gates as conditions, and forgets them on a new node", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await runOn(h, a);
    a.send(agentStatus([running()]));
    await h.clock.advance(1_000);
    a.send({ type: "LB_GATE", service: "web", admitted: true });
    a.send({ type: "LB_GATE", service: "api", admitted: false });
    assert.deepEqual(podStatusOf(a.getSnapshot()).conditions, [
      { type: "Ready", status: "True", lastTransitionTime: AT },
      {
        type: "loadbalancer.milpa.io/api",
        status: "False",
        lastTransitionTime: "2026-01-01T00:00:01.000Z",
      },
      {
        type: "loadbalancer.milpa.io/web",
        status: "True",
        lastTransitionTime: "2026-01-01T00:00:01.000Z",
      },
    ]);
    await h.clock.advance(1_000);
    a.send({ type: "LB_GATE", service: "web", admitted: true });
    assert.equal(
      podStatusOf(a.getSnapshot()).conditions?.[2].lastTransitionTime,
      "2026-01-01T00:00:01.000Z",
      "an unchanged gate keeps its transition time",
    );
    a.send({ type: "NODE_LOST", reason: "gone" });
    assert.deepEqual(
      podStatusOf(a.getSnapshot()).conditions?.map((c) => c.type),
      ["Ready"],
      "a new node must be admitted again",
    );
  });
});
