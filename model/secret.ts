/**
 * The Secret kind: named key/value data, base64 in manifests and output (as in Kubernetes).
 * A pod receives only the keys it references (`env.valueFrom.secretKeyRef`), and the
 * registry credentials of its `imagePullSecrets`.
 */
import type { MilpaObject, ObjectMeta } from "./meta.ts";

/** A secret. `data` values are base64; `stringData` (plain text) is merged into `data` on write. */
export interface Secret extends MilpaObject {
  kind: "Secret";
  metadata: ObjectMeta;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  /** e.g. "Opaque", "kubernetes.io/dockerconfigjson". @default "Opaque" */
  type?: string;
}

/** Decodes a base64 value to text. */
export function decodeSecretValue(b64: string): string {
  const bin = atob(b64);
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/** Encodes text as base64. */
export function encodeSecretValue(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/** Registry credentials by registry host. */
export type RegistryCredentials = Record<string, { username: string; password: string }>;

/**
 * The registry credentials a secret holds: keys `server`, `username`, `password` (Milpa), or a
 * `.dockerconfigjson` (`{"auths": {"<host>": {"username", "password"} | {"auth": b64(user:pass)}}}`).
 */
export function credentialsOf(secret: Secret): RegistryCredentials {
  const data = secret.data ?? {};
  const get = (k: string) => data[k] === undefined ? undefined : decodeSecretValue(data[k]);
  const out: RegistryCredentials = {};
  const server = get("server");
  const username = get("username");
  const password = get("password");
  if (server && username !== undefined && password !== undefined) {
    out[hostOf(server)] = { username, password };
  }
  const docker = get(".dockerconfigjson");
  if (docker) {
    const auths = (JSON.parse(docker) as {
      auths?: Record<string, { username?: string; password?: string; auth?: string }>;
    })
      .auths ?? {};
    for (const [url, a] of Object.entries(auths)) {
      let user = a.username;
      let pass = a.password;
      if ((user === undefined || pass === undefined) && a.auth) {
        const plain = decodeSecretValue(a.auth);
        const i = plain.indexOf(":");
        user = plain.slice(0, i);
        pass = plain.slice(i + 1);
      }
      if (user !== undefined && pass !== undefined) {
        out[hostOf(url)] = { username: user, password: pass };
      }
    }
  }
  return out;
}

/** The host (and port) of a registry URL or name: "https://r.io:5000/v2/" → "r.io:5000". */
export function hostOf(server: string): string {
  const s = server.replace(/^[a-z]+:\/\//i, "");
  const host = s.split("/")[0];
  return host === "index.docker.io" ? "docker.io" : host;
}
