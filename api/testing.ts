/**
 * Test support for the API tests: the Hono app on a fresh `:memory:` KV, a fake clock, an agent
 * hub and a transition recorder, with an authenticated request helper. Only tests import this.
 */
import type { Hono } from "hono";
import { AgentHub } from "../actors/agent_hub.ts";
import { TransitionRecorder } from "../actors/inspection.ts";
import { loadCatalog } from "../cloud/catalog.ts";
import { resolveConfig } from "../model/config.ts";
import { FakeClock } from "../model/fake_clock.ts";
import { ObjectStore } from "../store/object_store.ts";
import { createApp } from "./app.ts";

/** The API token of test apps. */
export const TEST_TOKEN = "test-token-0123456789";

/** An app under test and what it runs on. */
export interface TestApi {
  app: Hono;
  kv: Deno.Kv;
  store: ObjectStore;
  clock: FakeClock;
  hub: AgentHub;
  recorder: TransitionRecorder;
  /** A request with the right token and, when given, a JSON body (a string is sent as is). */
  call(method: string, path: string, body?: unknown): Promise<Response>;
}

/** Runs `fn` against an app on a fresh in-memory KV, closed afterwards. */
export async function withTestApi(fn: (api: TestApi) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  const store = new ObjectStore(kv, clock);
  const hub = new AgentHub(clock);
  const recorder = new TransitionRecorder({ clock });
  const app = createApp({
    store,
    clock,
    config: resolveConfig({}),
    catalog: loadCatalog(),
    hub,
    token: TEST_TOKEN,
    verifyNodeToken: () => Promise.resolve(false),
    cloudName: "sim",
    recorder,
  });
  const call = async (method: string, path: string, body?: unknown) =>
    await app.request(path, {
      method,
      headers: {
        Authorization: `Bearer ${TEST_TOKEN}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  try {
    await fn({ app, kv, store, clock, hub, recorder, call });
  } finally {
    hub.closeAll();
    kv.close();
  }
}

/**
 * Everything a body says until it ends; a body still open after `ms` is cancelled (as a
 * client giving up would), so a stream that never ends fails the test instead of hanging it.
 */
export async function readAll(body: ReadableStream<Uint8Array>, ms = 5_000): Promise<string> {
  const reader = body.getReader();
  const timer = setTimeout(() => void reader.cancel(), ms);
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      text += decoder.decode(r.value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
  }
  return text;
}
