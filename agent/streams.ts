/**
 * The agent's end of exec, attach and port-forward streams. For each `stream.open` the agent
 * dials back a WebSocket (ws_client.ts `dialStream`) and serves it here:
 *
 * - exec: runs the command with the unit's environment and working directory; for a unit
 *   from an image, inside the unit's namespaces and root (`nsenter --target <its PID 1> -m -u
 *   -i -p -r -w`, as the unit's user, with the image's environment under the pod's), whether
 *   runc or unshare started it. With a terminal the command runs under the pty helper
 *   (pty_helper.ts). stdout/stderr go out on channels 1/2 and the exit code on channel 3.
 *   When the client goes away first, the command and everything it started get SIGKILL.
 * - attach: the unit's output from now on (channel 1), until the unit's log closes or the
 *   client goes. With stdin, channel 0 goes to the unit's stdin pipe, which only a unit with
 *   `stdin: true` has (others run with stdin closed, and attaching with stdin is refused);
 *   channel 5 ends this attach's input, never the pipe, which stays open for later attaches.
 *   Units have no terminal, so attaching with a tty is refused.
 * - portforward: a TCP connection to the port in the pod's network (the pod IP, or 127.0.0.1
 *   in the node's network namespace), raw bytes both ways; a port that refuses ends the
 *   stream with a text frame `{"error"}`.
 */
import type { StreamOpenMessage } from "../model/agent_protocol.ts";
import {
  CHANNEL,
  decodeFrame,
  encodeFrame,
  parseResize,
  statusFrame,
  type StreamStatus,
} from "../model/stream_frames.ts";
import { containerEnv } from "./oci/image_config.ts";
import { HOST_PATH } from "./pod_spec.ts";
import type { PodRunner } from "./pod_runner.ts";
import { descendants, signal } from "./proc.ts";
import { PTY_EOF, PTY_INPUT, ptyArgv, ptyFrame, ptyResize } from "./pty_helper.ts";

/** What the stream handlers need from the agent. */
export interface StreamDeps {
  runner: PodRunner;
  /** Opens the stream's WebSocket back to the controller (binaryType "arraybuffer"). */
  dial: (id: string) => WebSocket;
  /** The pod's IP, for port-forward; 127.0.0.1 when unknown. */
  podIP?: string;
  log: (message: string) => void;
  /** Python for the pty helper. @default "/usr/bin/python3", else "python3" on PATH */
  python?: string;
  /** util-linux nsenter. @default "nsenter" on HOST_PATH */
  nsenter?: string;
}

/** Serves one `stream.open`: dials back and runs the stream until either side ends it. */
export async function serveStream(msg: StreamOpenMessage, deps: StreamDeps): Promise<void> {
  let ws: WebSocket;
  try {
    ws = deps.dial(msg.stream);
  } catch (err) {
    deps.log(`stream ${msg.id}: cannot dial back: ${messageOf(err)}`);
    return;
  }
  // Frames may come as soon as the socket opens: kept until the handler takes over (onFrames).
  const early: MessageEvent[] = [];
  ws.onmessage = (e) => early.push(e);
  earlyFrames.set(ws, early);
  const opened = await new Promise<boolean>((resolve) => {
    ws.addEventListener("open", () => resolve(true), { once: true });
    ws.addEventListener("close", () => resolve(false), { once: true });
  });
  if (!opened) {
    deps.log(`stream ${msg.id}: the controller refused the dial-back`);
    return;
  }
  try {
    if (msg.kind === "exec") await serveExec(ws, msg, deps);
    else if (msg.kind === "attach") await serveAttach(ws, msg, deps);
    else await servePortForward(ws, msg, deps);
  } catch (err) {
    finish(ws, { error: messageOf(err) });
  }
}

const earlyFrames = new WeakMap<WebSocket, MessageEvent[]>();

/** Hands every frame to `handler`, those that came before it first. */
function onFrames(ws: WebSocket, handler: (e: MessageEvent) => void): void {
  const early = earlyFrames.get(ws) ?? [];
  earlyFrames.delete(ws);
  ws.onmessage = handler;
  for (const e of early) handler(e);
}

/** Sends the status (exec, attach) and closes. */
function finish(ws: WebSocket, status: StreamStatus): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  ws.send(statusFrame(status));
  ws.close(1000);
}

/** A promise that settles when the socket closes. */
function closedOf(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.addEventListener("close", () => resolve(), { once: true }));
}

class StreamFailure extends Error {}

/** The unit to exec in or attach to, running; throws StreamFailure saying why not. */
function runningUnit(runner: PodRunner, name: string | undefined) {
  const pod = runner.pod;
  if (!pod) throw new StreamFailure("the node runs no pod");
  const unitName = name || pod.spec.units[0]?.name;
  const found = runner.unit(unitName);
  if (!found) {
    const names = runner.unitNames().join(", ");
    throw new StreamFailure(
      `unit "${unitName}" not found in pod "${pod.name}"; its units: ${names}`,
    );
  }
  if (!found.run) {
    const st = found.status.state;
    const why = st.waiting?.reason ??
      (st.terminated ? `terminated with exit code ${st.terminated.exitCode}` : "not started");
    throw new StreamFailure(`unit "${unitName}" is not running (${why})`);
  }
  return { ...found, run: found.run, name: unitName };
}

/** The command line and environment of an exec. */
async function execPlan(msg: StreamOpenMessage, deps: StreamDeps) {
  const { unit, run } = runningUnit(deps.runner, msg.unit);
  const command = msg.command ?? [];
  if (command.length === 0) throw new StreamFailure("exec needs a command");
  if (!unit.image || !run.context) {
    return { argv: command, env: run.env, cwd: run.cwd };
  }
  // An image unit: its namespaces and root, its user, the image's environment under the pod's.
  const init = run.pid === undefined ? undefined : containerInit(run.pid);
  if (init === undefined || !inOwnRoot(init)) {
    throw new StreamFailure(`unit "${unit.name}" is still starting; try again`);
  }
  let prepared: { uid: number; gid: number; home: string; imageEnv: Record<string, string> };
  try {
    prepared = JSON.parse(await Deno.readTextFile(`${run.context.stateDir}/unit.json`));
  } catch {
    throw new StreamFailure(`unit "${unit.name}": its image is not prepared`);
  }
  const argv = [
    deps.nsenter ?? "nsenter",
    `--target=${init}`,
    "--mount",
    "--uts",
    "--ipc",
    "--pid",
    "--root",
    "--wd",
    `--setgid=${prepared.gid}`,
    `--setuid=${prepared.uid}`,
    "--",
    ...command,
  ];
  const env = containerEnv(prepared.imageEnv, run.context.specEnv, prepared.home);
  return { argv, env, cwd: "/" };
}

/**
 * PID 1 of the unit's innermost PID namespace among the launcher's descendants: the process
 * whose NSpid (in /proc/<pid>/status) is longest and ends in 1.
 */
export function containerInit(launcherPid: number): number | undefined {
  let best: { pid: number; depth: number } | undefined;
  for (const p of [{ pid: launcherPid }, ...descendants(launcherPid)]) {
    let status: string;
    try {
      status = Deno.readTextFileSync(`/proc/${p.pid}/status`);
    } catch {
      continue;
    }
    const ns = status.match(/^NSpid:\s*(.*)$/m)?.[1].trim().split(/\s+/) ?? [];
    if (ns.length > 1 && ns[ns.length - 1] === "1" && (!best || ns.length > best.depth)) {
      best = { pid: p.pid, depth: ns.length };
    }
  }
  return best?.pid;
}

/**
 * Whether the process has a root of its own (pivot_root or chroot done): before that, PID 1
 * of a namespace is still the launcher's (runc's init, unshare's shell) and sees the node's
 * root, which exec must not enter.
 */
function inOwnRoot(pid: number): boolean {
  try {
    const theirs = Deno.statSync(`/proc/${pid}/root/`);
    const ours = Deno.statSync("/");
    return theirs.ino !== ours.ino || theirs.dev !== ours.dev;
  } catch {
    return false;
  }
}

function python(deps: StreamDeps): string {
  if (deps.python) return deps.python;
  try {
    Deno.statSync("/usr/bin/python3");
    return "/usr/bin/python3";
  } catch {
    return "python3";
  }
}

async function serveExec(ws: WebSocket, msg: StreamOpenMessage, deps: StreamDeps): Promise<void> {
  let plan;
  try {
    plan = await execPlan(msg, deps);
  } catch (err) {
    if (err instanceof StreamFailure) return finish(ws, { error: err.message });
    throw err;
  }
  const tty = msg.tty === true;
  const argv = tty ? ptyArgv(python(deps), plan.argv, msg.cols, msg.rows) : plan.argv;
  const [program, ...args] = argv;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      env: { ...plan.env, PATH: plan.env.PATH ?? HOST_PATH },
      clearEnv: true,
      cwd: plan.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    const notFound = err instanceof Deno.errors.NotFound;
    return finish(ws, {
      error: `exec "${program}": ${notFound ? "not found" : messageOf(err)}`,
      exitCode: notFound ? 127 : 126,
    });
  }
  const pid = child.pid;
  deps.log(`stream ${msg.id}: exec in unit "${msg.unit ?? ""}" (pid ${pid}${tty ? ", tty" : ""})`);
  const stdin = child.stdin.getWriter();
  let stdinOpen = true;
  let writes = Promise.resolve();
  const write = (bytes: Uint8Array) => {
    writes = writes.then(() => stdinOpen ? stdin.write(bytes) : undefined).catch(() => {});
  };
  const endInput = () => {
    writes = writes.then(async () => {
      if (!stdinOpen) return;
      if (tty) return await stdin.write(ptyFrame(PTY_EOF));
      stdinOpen = false;
      await stdin.close();
    }).catch(() => {});
  };
  if (!msg.stdin && !tty) endInput();
  onFrames(ws, (e) => {
    const frame = decodeFrame(e.data);
    if (!frame) return;
    if (frame.channel === CHANNEL.stdin && msg.stdin) {
      write(tty ? ptyFrame(PTY_INPUT, frame.payload.slice()) : frame.payload.slice());
    } else if (frame.channel === CHANNEL.resize && tty) {
      const size = parseResize(frame.payload);
      if (size) write(ptyResize(size.cols, size.rows));
    } else if (frame.channel === CHANNEL.stdinEnd) endInput();
  });
  let exited = false;
  const closed = closedOf(ws).then(() => {
    if (exited) return;
    // The client went away: end the command and whatever it started.
    for (const p of descendants(pid)) signal(p.pid, "SIGKILL");
    signal(pid, "SIGKILL");
  });
  const send = (channel: 1 | 2) => (chunk: Uint8Array) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(channel, chunk));
  };
  const output = Promise.all([
    pump(child.stdout, send(CHANNEL.stdout)),
    pump(child.stderr, send(CHANNEL.stderr)),
  ]);
  const status = await child.status;
  exited = true;
  // Output a grandchild keeps open is not waited for long.
  await Promise.race([output, new Promise((r) => setTimeout(r, 1000))]);
  stdinOpen = false;
  await stdin.close().catch(() => {});
  finish(ws, { exitCode: status.code });
  await closed;
}

async function pump(stream: ReadableStream<Uint8Array>, onChunk: (c: Uint8Array) => void) {
  try {
    for await (const chunk of stream) onChunk(chunk);
  } catch {
    // The pipe broke: output ends here.
  }
}

async function serveAttach(
  ws: WebSocket,
  msg: StreamOpenMessage,
  deps: StreamDeps,
): Promise<void> {
  let found: ReturnType<typeof runningUnit>;
  try {
    found = runningUnit(deps.runner, msg.unit);
  } catch (err) {
    if (err instanceof StreamFailure) return finish(ws, { error: err.message });
    throw err;
  }
  const name = found.name;
  if (msg.tty) {
    return finish(ws, {
      error: `unit "${name}" has no terminal (tty is not supported for units); ` +
        "attach without -t",
    });
  }
  if (msg.stdin && !found.unit.stdin) {
    return finish(ws, {
      error: `unit "${name}" runs with its stdin closed, so nothing can be sent to it; ` +
        "attach without -i to see its output, or give the unit stdin: true",
    });
  }
  if (msg.stdin && !found.run.stdin) {
    return finish(ws, { error: `unit "${name}": this node's runtime gives it no stdin` });
  }
  const log = deps.runner.logs(name);
  if (!log) return finish(ws, { error: `unit "${name}" has no log` });
  const ended = new Promise<void>((resolve) => {
    const cancel = log.follow(
      (text) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(CHANNEL.stdout, text));
      },
      () => resolve(),
    );
    closedOf(ws).then(() => {
      cancel();
      resolve();
    });
  });
  if (msg.stdin) {
    // To the stdin of the unit's run at the time (a restarted unit has a new pipe).
    let inputOpen = true;
    onFrames(ws, (e) => {
      const frame = decodeFrame(e.data);
      if (!frame || !inputOpen) return;
      if (frame.channel === CHANNEL.stdin) {
        void deps.runner.unit(name)?.run?.stdin?.write(frame.payload);
      } else if (frame.channel === CHANNEL.stdinEnd) inputOpen = false;
    });
  }
  await ended;
  finish(ws, { error: `the log of unit "${name}" ended: the unit was stopped` });
}

async function servePortForward(
  ws: WebSocket,
  msg: StreamOpenMessage,
  deps: StreamDeps,
): Promise<void> {
  const port = msg.port ?? 0;
  const hosts = [...new Set([deps.podIP || "127.0.0.1", "127.0.0.1"])];
  // On a shared host network a node's loopback is every node's: only its own address is its.
  if (deps.podIP?.startsWith("127.")) hosts.splice(1);
  let conn: Deno.TcpConn | undefined;
  let problem = "";
  for (const hostname of hosts) {
    try {
      conn = await Deno.connect({ hostname, port });
      break;
    } catch (err) {
      problem = err instanceof Deno.errors.ConnectionRefused
        ? "connection refused"
        : messageOf(err);
    }
  }
  if (!conn) {
    if (ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ error: `port ${port} of the pod: ${problem}` }));
      ws.close(1000);
    }
    return;
  }
  const c = conn;
  let writes = Promise.resolve();
  onFrames(ws, (e) => {
    if (!(e.data instanceof ArrayBuffer)) return;
    const bytes = new Uint8Array(e.data);
    writes = writes.then(async () => {
      for (let off = 0; off < bytes.length;) off += await c.write(bytes.subarray(off));
    }).catch(() => ws.close(1000));
  });
  const closed = closedOf(ws).then(() => {
    try {
      c.close();
    } catch { /* already closed */ }
  });
  await pump(c.readable, (chunk) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(chunk);
  });
  if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  await closed;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
