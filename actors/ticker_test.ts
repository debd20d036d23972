import assert from "node:assert/strict";
import { assign, createActor, setup } from "xstate";
import { FakeClock } from "../model/fake_clock.ts";
import { Ticker, WATCHED } from "./ticker.ts";

const machine = setup({
  types: {} as {
    context: { ticks: number[] };
    events: { type: "GO" | "BACK" } | { type: "TICK"; since: number };
  },
}).createMachine({
  context: () => ({ ticks: [] }),
  initial: "Idle",
  states: {
    Idle: { on: { GO: "Watched" } },
    Watched: {
      tags: [WATCHED],
      on: {
        BACK: "Idle",
        TICK: { actions: ({ context, event }) => context.ticks.push(event.since) },
      },
    },
  },
});

Deno.test("Ticker ticks only actors in watched states, with when they entered, on one timer", async () => {
  const clock = new FakeClock();
  const t0 = clock.now();
  const ticker = new Ticker(clock, 1_000);
  ticker.start();
  const actors = Array.from({ length: 3 }, () => createActor(machine));
  for (const a of actors) {
    ticker.follow(a);
    a.start();
  }
  assert.equal(clock.pendingTimers, 0, "no timer while nothing is watched");
  await clock.advance(500);
  actors[0].send({ type: "GO" });
  actors[1].send({ type: "GO" });
  assert.equal(ticker.size, 2);
  assert.equal(clock.pendingTimers, 1, "one timer for all");
  // A period's ticks are spread over 50 parts: the two actors are ticked 20 ms apart.
  await clock.advance(1_000);
  actors[1].send({ type: "BACK" });
  await clock.advance(1_000);
  assert.deepEqual(actors[0].getSnapshot().context.ticks, [t0 + 500, t0 + 500]);
  assert.deepEqual(actors[1].getSnapshot().context.ticks, [t0 + 500]);
  assert.deepEqual(actors[2].getSnapshot().context.ticks, []);
  actors[0].stop();
  await clock.advance(1_000);
  assert.equal(ticker.size, 0);
  assert.equal(clock.pendingTimers, 0, "the timer stops when nothing is watched");
  ticker.stop();
  for (const a of actors) a.stop();
});

Deno.test("Ticker keeps each actor in its slice when others leave: one tick each a period", async () => {
  const clock = new FakeClock();
  const ticker = new Ticker(clock, 1_000);
  ticker.start();
  const actors = Array.from({ length: 3 }, () => createActor(machine));
  for (const a of actors) {
    ticker.follow(a);
    a.start();
    a.send({ type: "GO" });
  }
  // Slices are 20 ms: the first actor's tick comes first, then it leaves.
  await clock.advance(30);
  assert.equal(actors[0].getSnapshot().context.ticks.length, 1);
  actors[0].send({ type: "BACK" });
  // The rest of the period: each remaining actor gets its tick, none is skipped or doubled.
  await clock.advance(970);
  assert.deepEqual(actors.slice(1).map((a) => a.getSnapshot().context.ticks.length), [1, 1]);
  await clock.advance(1_000);
  assert.deepEqual(actors.map((a) => a.getSnapshot().context.ticks.length), [1, 2, 2]);
  ticker.stop();
  for (const a of actors) a.stop();
});

Deno.test("Ticker sends a tick only when a transition takes it: idle ticks reach no observer", async () => {
  let due = false;
  const guarded = setup({
    types: {} as { context: { ticks: number }; events: { type: "TICK"; since: number } },
    guards: { due: () => due },
  }).createMachine({
    context: { ticks: 0 },
    initial: "Watched",
    states: {
      Watched: {
        tags: [WATCHED],
        on: {
          TICK: { guard: "due", actions: assign({ ticks: ({ context }) => context.ticks + 1 }) },
        },
      },
    },
  });
  const clock = new FakeClock();
  const ticker = new Ticker(clock, 1_000);
  ticker.start();
  const a = createActor(guarded);
  ticker.follow(a);
  a.start();
  let seen = 0;
  a.subscribe(() => seen++);
  await clock.advance(5_000);
  assert.equal(seen, 0, "five periods of ticks nothing takes: no event processed");
  due = true;
  await clock.advance(1_000);
  assert.equal(a.getSnapshot().context.ticks, 1);
  assert.equal(seen, 1);
  ticker.stop();
  a.stop();
});
