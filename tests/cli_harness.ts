/**
 * Harness for the milpactl subprocess tests: a fake controller on 127.0.0.1 (port 0) that
 * answers canned routes and records requests, and a temp MILPA_HOME to run milpactl in.
 */

const CLI = new URL("../cli/milpactl.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
/** The token the fake controller accepts. */
export const TOKEN = "test-token-3f0c";

/** A request the fake controller received. */
export interface Received {
  method: string;
  path: string;
  query: URLSearchParams;
  body?: unknown;
}

/** Answers one route. */
export type Route = (req: Received) => Response | Promise<Response>;

/** A JSON answer. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** An error Status answer, as docs/api.md describes. */
export function status(code: number, reason: string, message: string, details?: unknown): Response {
  return json({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code,
    reason,
    message,
    details,
  }, code);
}

/** A controller that answers `routes` ("METHOD /path") and records every request. */
export class FakeController {
  readonly received: Received[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(routes: Record<string, Route>) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const url = new URL(req.url);
        const text = await req.text();
        const received: Received = {
          method: req.method,
          path: url.pathname,
          query: url.searchParams,
          body: text ? JSON.parse(text) : undefined,
        };
        this.received.push(received);
        if (req.headers.get("authorization") !== `Bearer ${TOKEN}`) {
          return status(401, "Unauthorized", "missing or wrong token");
        }
        const route = routes[`${req.method} ${url.pathname}`];
        return route ? await route(received) : status(404, "NotFound", `no route ${url.pathname}`);
      },
    );
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}

/** The outcome of one milpactl run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A temp MILPA_HOME (with client.yaml when a controller is given) to run milpactl in. */
export class Workspace {
  private constructor(readonly dir: string) {}

  static async create(endpoint?: string, token = TOKEN): Promise<Workspace> {
    const dir = await Deno.makeTempDir({ prefix: "milpactl_test_" });
    if (endpoint) {
      await Deno.writeTextFile(`${dir}/client.yaml`, `endpoint: ${endpoint}\ntoken: ${token}\n`);
    }
    return new Workspace(dir);
  }

  async write(name: string, text: string): Promise<void> {
    await Deno.writeTextFile(`${this.dir}/${name}`, text);
  }

  async run(args: string[], stdin?: string): Promise<RunResult> {
    const env: Record<string, string> = { MILPA_HOME: this.dir, NO_COLOR: "1" };
    for (const name of ["PATH", "HOME", "DENO_DIR"]) {
      const value = Deno.env.get(name);
      if (value) env[name] = value;
    }
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--config", CONFIG, CLI, ...args],
      cwd: this.dir,
      clearEnv: true,
      env,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(stdin));
      await writer.close();
    }
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  }

  async remove(): Promise<void> {
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Runs `fn` with a fake controller and a workspace pointing at it; cleans both up. */
export async function withController(
  routes: Record<string, Route>,
  fn: (ws: Workspace, controller: FakeController) => Promise<void>,
): Promise<void> {
  const controller = new FakeController(routes);
  const ws = await Workspace.create(controller.endpoint);
  try {
    await fn(ws, controller);
  } finally {
    await controller.close();
    await ws.remove();
  }
}
