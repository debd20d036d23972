/**
 * TCP_NODELAY for the controller's TLS listeners.
 *
 * Deno 2.9's `Deno.serve` leaves Nagle's algorithm on for the connections of a TLS listener
 * (its plain TCP connections have TCP_NODELAY). A response over about 500 bytes then goes out
 * as a first write and a small last one that Nagle holds until the client acknowledges the
 * first, which the client delays by 40 ms: every such response took 44 ms (measured: 90
 * requests/s on one connection, for HTTP/1.1 and HTTP/2 alike). `Deno.serve` offers no option
 * and TLS connections no `setNoDelay()`, so this sets TCP_NODELAY on the listening socket itself,
 * through libc's setsockopt: on Linux, accepted sockets inherit it. See
 * docs/decisions/0002-tcp-nodelay-on-tls-listeners.md.
 */

const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
/** `st` of a socket in LISTEN state, in /proc/net/tcp. */
const LISTEN = "0A";

/** The inodes of this machine's listening TCP sockets on `port` (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[1].endsWith(`:${hexPort}`) && cols[3] === LISTEN) {
        inodes.add(cols[9]);
      }
    }
  }
  return inodes;
}

/**
 * Sets TCP_NODELAY on this process's listening sockets on `port`, so that the connections they
 * accept have it. Returns how many sockets it set, or why it could not (not Linux, no FFI
 * permission, no libc): the caller logs that, and the controller works on, only slower.
 */
export function setListenerNoDelay(port: number): number | string {
  if (Deno.build.os !== "linux") return `not on ${Deno.build.os}`;
  let libc: Deno.DynamicLibrary<{
    setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"]; result: "i32" };
  }>;
  try {
    libc = Deno.dlopen("libc.so.6", {
      setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
    });
  } catch (e) {
    return `cannot load libc's setsockopt: ${(e as Error).message}`;
  }
  try {
    const inodes = listeningInodes(port);
    const one = new Uint8Array(new Int32Array([1]).buffer);
    let set = 0;
    for (const entry of Deno.readDirSync("/proc/self/fd")) {
      let target: string;
      try {
        target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
      } catch {
        continue; // closed meanwhile
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode === undefined || !inodes.has(inode)) continue;
      if (libc.symbols.setsockopt(Number(entry.name), IPPROTO_TCP, TCP_NODELAY, one, 4) === 0) {
        set++;
      }
    }
    return set;
  } finally {
    libc.close();
  }
}
