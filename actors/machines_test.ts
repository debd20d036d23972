import assert from "node:assert/strict";
import { assign, createActor, setup } from "xstate";
import { onlyVolatileChanged } from "./machines.ts";

const machine = setup({
  types: {} as { context: { lastSeen?: number; phase: string; items: string[] } },
}).createMachine({
  context: { phase: "new", items: [] },
  initial: "Up",
  states: {
    Up: {
      initial: "Quiet",
      states: { Quiet: { on: { LOUD: "Loud" } }, Loud: {} },
      on: {
        SEEN: { actions: assign({ lastSeen: () => Date.now() }) },
        PHASE: { actions: assign({ phase: "next" }) },
        // A new array with the same items (a repeated status): the same data.
        SAME_ITEMS: { actions: assign({ items: ({ context }) => [...context.items] }) },
        ADD_ITEM: { actions: assign({ items: ({ context }) => [...context.items, "x"] }) },
        STOP: "Down",
      },
    },
    Down: { type: "final" },
  },
});

Deno.test("onlyVolatileChanged: true when only a volatile field moved, false for any other change", () => {
  const actor = createActor(machine).start();
  const step = (type: string) => {
    const prev = actor.getSnapshot();
    actor.send({ type });
    return onlyVolatileChanged(prev, actor.getSnapshot(), ["lastSeen"]);
  };
  assert.equal(onlyVolatileChanged(undefined, actor.getSnapshot(), ["lastSeen"]), false);
  assert.equal(step("SEEN"), true, "a liveness time, set for the first time");
  assert.equal(step("SEEN"), true, "a liveness time, moved (the state value is a new object)");
  assert.equal(step("PHASE"), false, "another context field");
  assert.equal(step("SAME_ITEMS"), true, "a field made anew with the same data");
  assert.equal(step("ADD_ITEM"), false, "a field's data changed");
  assert.equal(step("SAME_ITEMS"), true);
  assert.equal(step("LOUD"), false, "another state");
  assert.equal(step("STOP"), false, "another status");
  const fresh = createActor(machine).start();
  const before = fresh.getSnapshot();
  fresh.send({ type: "SEEN" });
  assert.equal(onlyVolatileChanged(before, fresh.getSnapshot(), []), false, "nothing is volatile");
});
