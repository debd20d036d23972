/**
 * Who may do what: the principal a request authenticated as, the access each route needs
 * (worked out from method and path alone, so no route can be added without an answer), and
 * the one rule between them. Pure functions; `api/auth.ts` applies them to requests.
 *
 * - The admin token (`client.yaml`) may do everything, and is the only one to manage tokens.
 * - A cluster-wide token reads everything (`view`) or reads and writes everything (`edit`).
 * - A namespace token reads (`view`) or reads and writes (`edit`) under
 *   `/api/v1/namespaces/<its namespace>/...` and the actors of that namespace's objects; it
 *   gets nothing cluster-scoped (nodes, lists across namespaces, the actor list, events of
 *   every namespace).
 * - Reading Secrets needs `edit` (as Kubernetes' `view` role, a view token sees no Secret
 *   values): a read-only token for dashboards never hands out credentials.
 * - Exec, attach and port-forward (`GET .../pods/{name}/{exec,attach,portforward}`, WebSocket
 *   upgrades) write: they run commands in the pod, as Kubernetes' `create` on `pods/exec`.
 * - Any valid token may read `/version` and the statecharts (drawn from the code, not state).
 * - A batch needs a token that may write; each of its items is then checked against its own
 *   namespace (or cluster scope for cluster-scoped kinds) before anything is planned.
 */
import type { ApiTokenRole } from "../model/api_token.ts";

/** What a request does: GET and HEAD read (watches and logs too); everything else writes. */
export type Verb = "read" | "write";

/** Whom a request authenticated as. */
export type Principal =
  | { kind: "admin" }
  | { kind: "token"; id: string; role: ApiTokenRole; namespace?: string; expiresAt?: number };

/** What a route needs. */
export type Access =
  /** Any valid credential. */
  | { need: "any" }
  /** The admin token. */
  | { need: "admin" }
  /** `secrets`: the request reads Secret values, which view tokens may not. */
  | { need: "namespace"; namespace: string; verb: Verb; secrets?: true }
  | { need: "cluster"; verb: Verb; secrets?: true }
  /** A principal that may write; the items are checked one by one (batchItemAccess). */
  | { need: "batch" };

/** Machines whose actors are named `<machine>/<namespace>/<name>`. */
const NAMESPACED_MACHINES = new Set(["pod", "replicaset", "deployment", "service"]);

/** Subresources of a pod that run something in it: they write, whatever the method. */
const POD_STREAMS = new Set(["exec", "attach", "portforward"]);

/** The verb of an HTTP method. */
export function verbOf(method: string): Verb {
  return method === "GET" || method === "HEAD" ? "read" : "write";
}

/** `decodeURIComponent`, or undefined for a malformed escape (which then grants nothing). */
function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * The access a request needs, from its method and its path as the router sees it (Hono's
 * `c.req.path`; route parameters are that path's segments, percent-decoded). Anything not
 * recognised as namespaced is cluster-scoped, so an unknown route grants namespace tokens
 * nothing.
 */
export function accessFor(method: string, path: string): Access {
  const verb = verbOf(method);
  const seg = path.split("/").slice(1);
  if (path === "/version") return { need: "any" };
  if (seg[0] !== "api" || seg[1] !== "v1") return { need: "cluster", verb };
  switch (seg[2]) {
    case "statecharts":
      return verb === "read" ? { need: "any" } : { need: "cluster", verb };
    case "tokens":
      return { need: "admin" };
    case "batch":
      return seg.length === 3 && verb === "write" ? { need: "batch" } : { need: "cluster", verb };
    case "namespaces": {
      const namespace = seg.length >= 5 && seg[4] !== "" ? decode(seg[3]) : undefined;
      const secrets = seg[4] === "secrets" ? { secrets: true as const } : {};
      const stream = seg.length === 7 && seg[4] === "pods" && POD_STREAMS.has(seg[6]);
      return namespace
        ? { need: "namespace", namespace, verb: stream ? "write" : verb, ...secrets }
        : { need: "cluster", verb };
    }
    case "secrets":
      return { need: "cluster", verb, secrets: true };
    case "actors": {
      // `/api/v1/actors/{id}`: the id is the rest of the path, decoded as one parameter.
      const id = seg.length >= 4 ? decode(seg.slice(3).join("/")) : undefined;
      const parts = id?.split("/") ?? [];
      if (parts.length === 3 && NAMESPACED_MACHINES.has(parts[0]) && parts[1] && parts[2]) {
        return { need: "namespace", namespace: parts[1], verb };
      }
      return { need: "cluster", verb };
    }
  }
  return { need: "cluster", verb };
}

/** The access writing one batch item needs: its namespace, or cluster scope. */
export function batchItemAccess(namespace: string | undefined): Access {
  return namespace === undefined
    ? { need: "cluster", verb: "write" }
    : { need: "namespace", namespace, verb: "write" };
}

const mayWrite = (p: Principal) => p.kind === "admin" || p.role === "edit";

/** Whether `p` has `access`. */
export function permits(p: Principal, access: Access): boolean {
  if (p.kind === "admin") return true;
  switch (access.need) {
    case "any":
      return true;
    case "admin":
      return false;
    case "batch":
      return mayWrite(p);
    case "namespace":
      return (p.namespace === undefined || p.namespace === access.namespace) &&
        ((access.verb === "read" && !access.secrets) || mayWrite(p));
    case "cluster":
      return p.namespace === undefined &&
        ((access.verb === "read" && !access.secrets) || mayWrite(p));
  }
}

/** How a principal is named in messages: `token 0a1b2c3d4e5f (view, namespace "team")`. */
export function describePrincipal(p: Principal): string {
  if (p.kind === "admin") return "the admin token";
  return `token ${p.id} (${p.role}, ${
    p.namespace === undefined ? "all namespaces" : `namespace "${p.namespace}"`
  })`;
}

/** Why `p` may not have `access`: the message of the 403. */
export function refusal(p: Principal, access: Access): string {
  const who = describePrincipal(p);
  const scope = p.kind === "admin" ? undefined : p.namespace;
  switch (access.need) {
    case "admin":
      return `${who} cannot manage tokens: only the admin token (in $MILPA_HOME/client.yaml) can`;
    case "batch":
      return `${who} cannot write: it is a view token`;
    case "namespace":
      if (access.secrets && (scope === undefined || scope === access.namespace)) {
        return `${who} cannot read Secrets: view tokens see no Secret values (use an edit token)`;
      }
      return `${who} cannot ${access.verb} in namespace "${access.namespace}"`;
    case "cluster":
      if (access.secrets && scope === undefined) {
        return `${who} cannot read Secrets: view tokens see no Secret values (use an edit token)`;
      }
      return `${who} cannot ${access.verb} cluster-scoped resources ` +
        "(nodes, lists across namespaces, actors, events of every namespace)";
    case "any":
      return `${who} was refused`;
  }
}
