/** Host names and addresses as TLS certificates name them. */

/** An IP address or DNS name in the form certificates are compared in. */
export function canonicalName(name: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, "").replace(/^\[|\]$/g, "");
  if (n.includes(":")) {
    try {
      return new URL(`http://[${n}]/`).hostname.slice(1, -1);
    } catch {
      return n;
    }
  }
  return n;
}

/** Whether a (canonical) name is an IP address rather than a DNS name. */
export function isIpAddress(name: string): boolean {
  return name.includes(":") || /^\d{1,3}(\.\d{1,3}){3}$/.test(name);
}

/** Whether a host is one a certificate can name: not empty and not a wildcard listen address. */
export function isSpecificHost(host: string): boolean {
  const n = canonicalName(host);
  return n !== "" && n !== "0.0.0.0" && n !== "::";
}

/** Whether a host is a loopback address or name (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const n = canonicalName(host);
  return n === "localhost" || n === "::1" || /^127\.\d+\.\d+\.\d+$/.test(n);
}
