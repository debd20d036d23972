import assert from "node:assert/strict";
import { nextRestartDelay, RestartBackoff, UNIT_RESTART_BACKOFF } from "./backoff.ts";
import { FakeClock } from "../model/fake_clock.ts";

const failed = { ranMs: 100, exitCode: 1 };

Deno.test("nextRestartDelay() starts at 1 s and doubles to a 5 min cap", () => {
  const delays: number[] = [];
  let previous: number | undefined;
  for (let i = 0; i < 12; i++) {
    previous = nextRestartDelay(previous, failed);
    delays.push(previous);
  }
  assert.deepEqual(delays, [
    1_000,
    2_000,
    4_000,
    8_000,
    16_000,
    32_000,
    64_000,
    128_000,
    256_000,
    300_000,
    300_000,
    300_000,
  ]);
});

Deno.test("nextRestartDelay() backs off after a clean exit as after a failure", () => {
  assert.equal(nextRestartDelay(undefined, { ranMs: 5, exitCode: 0 }), 1_000);
  assert.equal(nextRestartDelay(1_000, { ranMs: 5, exitCode: 0 }), 2_000);
  assert.equal(nextRestartDelay(64_000, { ranMs: 5, exitCode: 0 }), 128_000);
  assert.equal(nextRestartDelay(300_000, { ranMs: 10 * 60_000 - 1, exitCode: 0 }), 300_000);
  assert.equal(nextRestartDelay(300_000, { ranMs: 10 * 60_000, exitCode: 0 }), 1_000);
});

Deno.test("nextRestartDelay() resets after a run of 10 min or more", () => {
  assert.equal(nextRestartDelay(300_000, { ranMs: 10 * 60_000 - 1, exitCode: 2 }), 300_000);
  assert.equal(nextRestartDelay(300_000, { ranMs: 10 * 60_000, exitCode: 2 }), 1_000);
});

Deno.test("RestartBackoff measures the run with its clock", async () => {
  const clock = new FakeClock();
  const backoff = new RestartBackoff(clock);
  backoff.started();
  assert.equal(backoff.exited(1), 1_000);
  backoff.started();
  assert.equal(backoff.exited(1), 2_000);
  backoff.started();
  await clock.advance(UNIT_RESTART_BACKOFF.resetAfterMs);
  assert.equal(backoff.exited(1), 1_000);
  backoff.started();
  assert.equal(backoff.exited(0), 2_000, "a clean exit does not reset");
  backoff.started();
  await clock.advance(UNIT_RESTART_BACKOFF.resetAfterMs - 1);
  assert.equal(backoff.exited(0), 4_000);
});
