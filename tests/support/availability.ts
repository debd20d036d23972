/**
 * Measures what a client sees during rollouts: one HTTP request every `intervalMs` on a fresh
 * TCP connection to an address (a load balancer, an HAProxy pod), each counted as served or
 * failed. For the zero-downtime tests and `scripts/rollout_availability.ts`.
 */

/** One request's outcome. */
export interface ProbeResult {
  /** Epoch milliseconds when it was sent. */
  at: number;
  ok: boolean;
  /** Why it failed, or the first line of the body when it succeeded. */
  detail: string;
}

/**
 * Sends `GET /` with `Connection: close` over a new TCP connection and reads the whole answer,
 * within `timeoutMs`. Succeeds on a 200 whose body contains `expect`.
 */
export async function probeOnce(
  hostname: string,
  port: number,
  expect: string,
  timeoutMs = 2_000,
): Promise<Omit<ProbeResult, "at">> {
  const signal = AbortSignal.timeout(timeoutMs);
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname, port, signal });
    await conn.write(
      new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`),
    );
    const decoder = new TextDecoder();
    let text = "";
    const buf = new Uint8Array(16 * 1024);
    const read = (async () => {
      for (let n = await conn!.read(buf); n !== null; n = await conn!.read(buf)) {
        text += decoder.decode(buf.subarray(0, n), { stream: true });
      }
    })();
    await Promise.race([
      read,
      new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(new Error("timed out reading")))
      ),
    ]);
    const status = text.split("\r\n", 1)[0];
    if (!/^HTTP\/1\.[01] 200/.test(status)) {
      return { ok: false, detail: status || "empty reply" };
    }
    const body = text.slice(text.indexOf("\r\n\r\n") + 4);
    return body.includes(expect)
      ? { ok: true, detail: body.split("\n", 1)[0] }
      : { ok: false, detail: `unexpected body: ${body.slice(0, 80)}` };
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  } finally {
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

/** A probe loop; `stop()` ends it and resolves to every result. */
export interface Prober {
  results: ProbeResult[];
  stop(): Promise<ProbeResult[]>;
}

/** Starts probing `hostname:port` every `intervalMs` (each request on its own, not waiting). */
export function startProbing(
  hostname: string,
  port: number,
  expect: string,
  intervalMs = 100,
): Prober {
  const results: ProbeResult[] = [];
  const pending = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const at = Date.now();
    const p = probeOnce(hostname, port, expect).then((r) => {
      results.push({ at, ...r });
    });
    pending.add(p);
    p.finally(() => pending.delete(p));
  }, intervalMs);
  return {
    results,
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      return results.sort((a, b) => a.at - b.at);
    },
  };
}

/** How many requests failed, and a few examples of why. */
export function summarize(results: ProbeResult[]): { sent: number; failed: number; why: string[] } {
  const failed = results.filter((r) => !r.ok);
  return {
    sent: results.length,
    failed: failed.length,
    why: [...new Set(failed.map((r) => r.detail))].slice(0, 5),
  };
}
