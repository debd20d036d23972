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
import { ApiTokenStore, type TokenSpec } from "../store/api_tokens.ts";
import { SavedLogs } from "../store/log_store.ts";
import { ObjectStore } from "../store/object_store.ts";
import { createApp } from "./app.ts";
import type { ApiLimits } from "./limits.ts";

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
  /** The user tokens (the app's store reads the same KV). */
  tokens: ApiTokenStore;
  /** A request with the admin token and, when given, a JSON body (a string is sent as is). */
  call(method: string, path: string, body?: unknown): Promise<Response>;
  /** The same with another token, from client address `from` (default "192.0.2.1"). */
  callAs(
    token: string,
    method: string,
    path: string,
    body?: unknown,
    from?: string,
  ): Promise<Response>;
  /** Creates a user token; returns its string. */
  newToken(spec: TokenSpec): Promise<string>;
}

/** Deno.serve's handler info for a client at `address` (Hono's `env`, for `app.request`). */
export function fromAddress(address: string): Deno.ServeHandlerInfo<Deno.NetAddr> {
  return {
    remoteAddr: { transport: "tcp", hostname: address, port: 40000 },
    completed: Promise.resolve(),
  };
}

/** Runs `fn` against an app on a fresh in-memory KV, closed afterwards. */
export async function withTestApi(
  fn: (api: TestApi) => Promise<void>,
  opts: { limits?: Partial<ApiLimits> } = {},
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  const store = new ObjectStore(kv, clock);
  const hub = new AgentHub(clock);
  const recorder = new TransitionRecorder({ clock });
  const tokens = new ApiTokenStore(kv);
  const app = createApp({
    store,
    apiTokens: tokens,
    savedLogs: new SavedLogs(kv),
    clock,
    config: resolveConfig({}),
    catalog: loadCatalog(),
    hub,
    token: TEST_TOKEN,
    verifyNodeToken: () => Promise.resolve(false),
    cloudName: "sim",
    recorder,
    limits: opts.limits,
  });
  const callAs = async (
    token: string,
    method: string,
    path: string,
    body?: unknown,
    from = "192.0.2.1",
  ) =>
    await app.request(path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }, fromAddress(from));
  const call = (method: string, path: string, body?: unknown) =>
    callAs(TEST_TOKEN, method, path, body);
  const newToken = async (spec: TokenSpec) => (await tokens.create(spec, clock.now())).token;
  try {
    await fn({ app, kv, store, clock, hub, recorder, tokens, call, callAs, newToken });
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
