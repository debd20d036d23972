/**
 * Names and tags of the AWS resources of a Service (reference §5.5). Resources are found by
 * their tags, never by name alone: `milpa-<id>-<ns>-<svc>` is ambiguous (`a-b/c` and `a/b-c`).
 */

/** Tag holding the controller id (the same key the nodes carry). */
export const CONTROLLER_TAG = "MilpaControllerID";
/** Tag holding the service key `<namespace>/<name>`. */
export const SERVICE_TAG = "MilpaServiceName";
/** Tag telling a service's own group from its load balancer's. */
export const ROLE_TAG = "MilpaRole";

/** Which of a service's two security groups. */
export type GroupRole = "service" | "load-balancer";

/** Splits a service key `<namespace>/<name>`; throws on anything else. */
export function splitService(service: string): { namespace: string; name: string } {
  const [namespace, name, ...rest] = service.split("/");
  if (!namespace || !name || rest.length) {
    throw new Error(`invalid service key "${service}": want <namespace>/<name>`);
  }
  return { namespace, name };
}

/** `milpa-<controllerID>-<namespace>-<service>`, plus `-lb` for the load balancer's, lowercase. */
export function groupName(controllerId: string, service: string, role: GroupRole): string {
  const { namespace, name } = splitService(service);
  const suffix = role === "load-balancer" ? "-lb" : "";
  return `milpa-${controllerId}-${namespace}-${name}${suffix}`.toLowerCase();
}

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** RFC 4648 base32 without padding, lowercase. */
export function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** `length` base32 characters of the SHA-256 of `text`: stable across restarts. */
export async function hashName(text: string, length: number): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return base32(new Uint8Array(digest)).slice(0, length);
}

/**
 * The classic ELB name of a service: `milpa-` and 26 base32 characters of a hash of the
 * controller id and service key, 32 characters in all (ELB's limit), so a restart finds it.
 */
export async function loadBalancerName(controllerId: string, service: string): Promise<string> {
  return `milpa-${await hashName(`${controllerId}/${service}`, 26)}`;
}

/** The value of tag `key` in an AWS tag list. */
export function tagValue(
  tags: { Key?: string; Value?: string }[] | undefined,
  key: string,
): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}
