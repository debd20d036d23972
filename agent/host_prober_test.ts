import assert from "node:assert/strict";
import { HostProber } from "./host_prober.ts";
import type { ProbeCheck, ProbeResult } from "./probe.ts";
import { readProc } from "./proc.ts";

// Self-signed, valid until 2126; probes skip certificate verification as Kubernetes does.
const CERT = `-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUU3MuVOR3Vg1xtoZqceZeWeiGgU8wCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQbWlscGEtcHJvYmUtdGVzdDAgFw0yNjExMjcxMDQwNTRaGA8y
MTI2MTEwMzEwNDA1NFowGzEZMBcGA1UEAwwQbWlscGEtcHJvYmUtdGVzdDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABFhkxz+3U6gOpCRDk0iJuJMIixfJIT4eF99b
k5P+qLMXFkd9kaPQ88a6IoahOprh3PNy0A2sfueRvjE7VfJ7DhujUzBRMB0GA1Ud
DgQWBBR/ElVLps5WOIR9UtvZWe51yiVk7jAfBgNVHSMEGDAWgBR/ElVLps5WOIR9
UtvZWe51yiVk7jAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIEAY
+RH1Kso2fDzgIKzUlBGGw0XC+/m6VMMjd2As2t2oAiEA6EvdejeZXZOdzkBUFvUU
p31wJqe39PxL793qoIyeQ3Q=
-----END CERTIFICATE-----
`;
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDKtAaHukBnDrPW8A
Ok5q61TdcxVlLe4aATC27CsizE2hRANCAARYZMc/t1OoDqQkQ5NIibiTCIsXySE+
HhffW5OT/qizFxZHfZGj0PPGuiKGoTqa4dzzctANrH7nkb4xO1Xyew4b
-----END PRIVATE KEY-----
`;

const prober = new HostProber();
const check = (c: ProbeCheck, signal = AbortSignal.timeout(5_000)): Promise<ProbeResult> =>
  prober.check(c, signal);

/** An HTTP(S) server on 127.0.0.1 that records request paths; /slow answers once released. */
function server(tls = false) {
  const seen: { path: string; userAgent: string | null }[] = [];
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const handler = async (req: Request) => {
    const url = new URL(req.url);
    seen.push({ path: url.pathname + url.search, userAgent: req.headers.get("user-agent") });
    switch (url.pathname) {
      case "/redirect":
        return new Response(null, { status: 302, headers: { location: "/fail" } });
      case "/fail":
        return new Response("broken", { status: 500 });
      case "/missing":
        return new Response("no", { status: 404 });
      case "/slow":
        await released;
        return new Response("late");
      default:
        return new Response("ok");
    }
  };
  const srv = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    ...(tls ? { cert: CERT, key: KEY } : {}),
  }, handler);
  return {
    port: srv.addr.port,
    seen,
    async [Symbol.asyncDispose]() {
      release();
      await srv.shutdown();
    },
  };
}

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

const http = (port: number, path = "/", scheme: "HTTP" | "HTTPS" = "HTTP"): ProbeCheck => ({
  unit: "web",
  type: "httpGet",
  scheme,
  host: "127.0.0.1",
  port,
  path,
});

Deno.test("HostProber httpGet passes on 2xx and 3xx, fails on 4xx and 5xx", async () => {
  await using srv = server();
  assert.deepEqual(await check(http(srv.port, "/healthz?deep=1")), {
    ok: true,
    detail: `HTTP probe http://127.0.0.1:${srv.port}/healthz?deep=1: status 200`,
  });
  assert.deepEqual(await check(http(srv.port, "/fail")), {
    ok: false,
    detail: `HTTP probe http://127.0.0.1:${srv.port}/fail: status 500`,
  });
  assert.equal((await check(http(srv.port, "/missing"))).ok, false);
  assert.deepEqual(srv.seen[0], { path: "/healthz?deep=1", userAgent: "milpa-probe/1" });
});

Deno.test("HostProber httpGet follows no redirect: a 302 passes", async () => {
  await using srv = server();
  const result = await check(http(srv.port, "/redirect"));
  assert.deepEqual(result, {
    ok: true,
    detail: `HTTP probe http://127.0.0.1:${srv.port}/redirect: status 302`,
  });
  assert.deepEqual(srv.seen.map((r) => r.path), ["/redirect"]);
});

Deno.test("HostProber httpGet fails when the answer does not come before the timeout", async () => {
  await using srv = server();
  const result = await check(http(srv.port, "/slow"), AbortSignal.timeout(100));
  assert.deepEqual(result, {
    ok: false,
    detail: `HTTP probe http://127.0.0.1:${srv.port}/slow: aborted`,
  });
});

Deno.test("HostProber httpGet fails when nothing listens", async () => {
  const result = await check(http(closedPort()));
  assert.equal(result.ok, false);
  assert.match(result.detail, /^HTTP probe http:\/\/127\.0\.0\.1:\d+\/: .*refused/i);
});

Deno.test("HostProber httpGet over HTTPS skips certificate verification", async () => {
  await using srv = server(true);
  assert.deepEqual(await check(http(srv.port, "/", "HTTPS")), {
    ok: true,
    detail: `HTTP probe https://127.0.0.1:${srv.port}/: status 200`,
  });
  assert.equal((await check(http(srv.port, "/fail", "HTTPS"))).ok, false);
});

Deno.test("HostProber tcpSocket passes when the port accepts, fails when it is closed", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const accepted = listener.accept().then((conn) => conn.close());
  const tcp = (port: number): ProbeCheck => ({
    unit: "db",
    type: "tcpSocket",
    host: "127.0.0.1",
    port,
  });
  assert.deepEqual(await check(tcp(port)), {
    ok: true,
    detail: `TCP probe 127.0.0.1:${port}: connected`,
  });
  await accepted;
  const closed = await check(tcp(closedPort()));
  assert.equal(closed.ok, false);
  assert.match(closed.detail, /^TCP probe 127\.0\.0\.1:\d+: .*refused/i);
});

const exec = (command: string[], extra: Partial<ProbeCheck> = {}): ProbeCheck => ({
  unit: "web",
  type: "exec",
  command,
  env: { PATH: "/usr/local/bin:/usr/bin:/bin" },
  cwd: "/",
  ...extra,
} as ProbeCheck);

Deno.test("HostProber exec passes on exit 0 and fails on any other exit", async () => {
  assert.deepEqual(await check(exec(["sh", "-c", "exit 0"])), {
    ok: true,
    detail: 'exec probe ["sh","-c","exit 0"]: exit code 0',
  });
  assert.deepEqual(await check(exec(["sh", "-c", "exit 1"])), {
    ok: false,
    detail: 'exec probe ["sh","-c","exit 1"]: exit code 1',
  });
  assert.deepEqual(await check(exec(["no-such-probe-command"])), {
    ok: false,
    detail: 'exec probe ["no-such-probe-command"]: not found',
  });
});

Deno.test("HostProber exec runs with the unit's environment and working directory", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const script = `test "$GREETING" = hi && test "$(pwd)" = "${dir}" && test -z "$HOME"`;
    const env = { PATH: "/usr/bin:/bin", GREETING: "hi" };
    assert.equal((await check(exec(["sh", "-c", script], { env, cwd: dir }))).ok, true);
    assert.equal((await check(exec(["sh", "-c", script], { env, cwd: "/" }))).ok, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("HostProber exec kills the command and its children on timeout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const started = Date.now();
    const result = await check(
      exec(["sh", "-c", `sleep 30 & echo $! > ${dir}/pid; wait`]),
      AbortSignal.timeout(300),
    );
    assert.deepEqual(result, {
      ok: false,
      detail: `exec probe ["sh","-c","sleep 30 & echo $! > ${dir}/pid; wait"]: killed`,
    });
    assert.ok(Date.now() - started < 5_000);
    const pid = Number(await Deno.readTextFile(`${dir}/pid`));
    // The kill is sent before the check resolves; the kernel may take a moment to show it.
    for (let i = 0; i < 100 && readProc(pid) && !readProc(pid)!.zombie; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const sleeper = readProc(pid);
    assert.ok(!sleeper || sleeper.zombie, "the shell's child was killed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("HostProber gives up at once when the signal already aborted", async () => {
  const aborted = AbortSignal.abort();
  assert.deepEqual(await check(exec(["sh", "-c", "exit 0"]), aborted), {
    ok: false,
    detail: "aborted",
  });
});
