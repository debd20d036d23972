/**
 * `milpactl port-forward POD [LOCAL:]REMOTE...`: listens on 127.0.0.1:LOCAL and tunnels each
 * connection to port REMOTE in the pod's network, one WebSocket per connection, until Ctrl-C.
 */
import { Command } from "commander";
import type { MilpaClient } from "../client.ts";
import type { CliContext } from "../context.ts";
import { formatError, UsageError } from "../errors.ts";
import { findKind } from "../../model/kinds.ts";
import type { Pod } from "../../model/pod.ts";
import { podStreamPath } from "./exec.ts";
import { podName } from "../resource_args.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";
import { openSocket, StreamError } from "./stream_session.ts";

const PODS = findKind("pods")!;

/** One `[LOCAL:]REMOTE`. */
export interface PortPair {
  local: number;
  remote: number;
}

/** Parses `8080`, `18080:8080` or `:8080` (any free local port). */
export function parsePortPair(text: string): PortPair {
  const m = text.match(/^(?:(\d*):)?(\d+)$/);
  const port = (s: string, zero: boolean) => {
    const n = Number(s);
    return Number.isInteger(n) && n <= 65535 && (n >= 1 || (zero && n === 0)) ? n : undefined;
  };
  const remote = m ? port(m[2], false) : undefined;
  const local = m ? (m[1] === undefined ? remote : m[1] === "" ? 0 : port(m[1], true)) : undefined;
  if (remote === undefined || local === undefined) {
    throw new UsageError(
      `bad port "${text}": give REMOTE or LOCAL:REMOTE, ports 1-65535`,
      "e.g. milpactl port-forward helloworld 18002:8002",
    );
  }
  return { local, remote };
}

async function tunnel(
  ctx: CliContext,
  client: MilpaClient,
  path: string,
  pair: PortPair,
  conn: Deno.TcpConn,
): Promise<void> {
  const what = `127.0.0.1:${pair.local} -> ${pair.remote}`;
  let ws: WebSocket;
  try {
    ws = await openSocket(client, `${path}?port=${pair.remote}`);
  } catch (err) {
    ctx.stderr.write(formatError(new StreamError(`${what}: ${(err as Error).message}`)));
    conn.close();
    return;
  }
  let writes = Promise.resolve();
  ws.onmessage = (e) => {
    if (typeof e.data === "string") {
      let error = e.data;
      try {
        error = JSON.parse(e.data).error ?? e.data;
      } catch { /* not JSON: shown as it is */ }
      ctx.stderr.write(formatError(new StreamError(`${what}: ${error}`)));
      return;
    }
    const bytes = new Uint8Array(e.data as ArrayBuffer);
    writes = writes.then(async () => {
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    }).catch(() => ws.close(1000));
  };
  const closed = new Promise<void>((resolve) =>
    ws.addEventListener("close", () => resolve(), { once: true })
  );
  const reading = (async () => {
    try {
      for await (const chunk of conn.readable) {
        if (ws.readyState !== WebSocket.OPEN) break;
        ws.send(chunk);
      }
    } catch { /* the connection was closed */ }
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  })();
  await closed;
  await writes;
  try {
    conn.close();
  } catch { /* already closed */ }
  await reading;
}

async function runPortForward(ctx: CliContext, pod: string, ports: string[], cmd: Command) {
  if (!ctx.terminal) throw new UsageError("this milpactl cannot listen (no network access)");
  const pairs = ports.map(parsePortPair);
  const globals = globalsOf(cmd);
  const namespace = namespaceOf(globals);
  const client = await connect(ctx, globals);
  const obj = await client.get<Pod>(PODS, namespace, pod);
  const phase = obj.status?.phase ?? "Waiting";
  if (phase !== "Running") {
    throw new StreamError(`pod "${pod}" is not running (Pod ${phase}); try again when it runs`);
  }
  const path = podStreamPath(namespace, pod, "portforward");
  const listeners: Deno.Listener<Deno.TcpConn>[] = [];
  try {
    for (const pair of pairs) {
      const listener = ctx.terminal.listen(pair.local);
      listeners.push(listener);
      pair.local = (listener.addr as Deno.NetAddr).port;
      ctx.stdout.write(`Forwarding from 127.0.0.1:${pair.local} -> ${pair.remote}\n`);
    }
  } catch (err) {
    for (const l of listeners) l.close();
    throw new UsageError(`cannot listen: ${(err as Error).message}`);
  }
  const open = new Set<Promise<void>>();
  let stopped!: () => void;
  const stop = new Promise<void>((resolve) => stopped = resolve);
  const off = [
    ctx.terminal.onSignal("SIGINT", () => stopped()),
    ctx.terminal.onSignal("SIGTERM", () => stopped()),
  ];
  const accepting = pairs.map(async (pair, i) => {
    try {
      for await (const conn of listeners[i]) {
        const t = tunnel(ctx, client, path, pair, conn).finally(() => open.delete(t));
        open.add(t);
      }
    } catch { /* the listener was closed */ }
  });
  await stop;
  for (const f of off) f();
  for (const l of listeners) l.close();
  await Promise.all(accepting);
  client.close();
}

/** Builds the `port-forward` command. */
export function portForwardCommand(ctx: CliContext): Command {
  return new Command("port-forward")
    .summary("forward local ports to a pod")
    .description(
      "Listen on 127.0.0.1:LOCAL and forward each connection to port REMOTE of the pod (in the " +
        "pod's network, so ports its firewall keeps closed work too), until Ctrl-C. " +
        "LOCAL:REMOTE, REMOTE (the same port locally) or :REMOTE (any free local port).",
    )
    .argument("<pod>", "the pod: NAME or pod/NAME")
    .argument("<ports...>", "[LOCAL:]REMOTE, one or more")
    .addHelpText(
      "after",
      examples([
        ["milpactl port-forward helloworld 18002:8002", "then: curl localhost:18002"],
        ["milpactl port-forward web 8080:80 8443:443", "two ports"],
      ]),
    )
    .action((pod: string, ports: string[], _opts: unknown, cmd: Command) =>
      runPortForward(ctx, podName(pod, "port-forward"), ports, cmd)
    );
}
