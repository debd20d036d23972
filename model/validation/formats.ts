/**
 * String formats of names, label keys and values, as Kubernetes defines them.
 * Each `*Problem` function returns why a string is invalid, or undefined when it is fine.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS952_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Most bytes the annotations of one object may take, keys and values together. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** Why `s` is not a DNS-1123 label (unit names, volume names, port names, namespaces). */
export function dns1123LabelProblem(s: string): string | undefined {
  if (s.length <= 63 && DNS1123_LABEL.test(s)) return undefined;
  return "must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', " +
    "starting and ending with a letter or digit";
}

/** Why `s` is not a DNS-1123 subdomain (pod, replica set and deployment names). */
export function dns1123SubdomainProblem(s: string): string | undefined {
  if (s.length <= 253 && DNS1123_SUBDOMAIN.test(s)) return undefined;
  return "must be a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' and '.', " +
    "starting and ending with a letter or digit";
}

/** Why `s` is not a DNS-952 label (service names). */
export function dns952LabelProblem(s: string): string | undefined {
  if (s.length <= 63 && DNS952_LABEL.test(s)) return undefined;
  return "must be a DNS-952 label: at most 63 lowercase letters, digits and '-', " +
    "starting with a letter and ending with a letter or digit";
}

/** Why `key` is not a label or annotation key: `[prefix/]name`, prefix a DNS subdomain. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf("/");
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix === "" || dns1123SubdomainProblem(prefix)) {
      return `invalid key ${
        JSON.stringify(key)
      }: the prefix before '/' must be a DNS-1123 subdomain`;
    }
  }
  if (name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `invalid key ${JSON.stringify(key)}: the name must be at most 63 letters, digits, ` +
      "'-', '_' and '.', starting and ending with a letter or digit";
  }
  return undefined;
}

/** Why `value` is not a label value: empty, or at most 63 characters like a key's name. */
export function labelValueProblem(value: string): string | undefined {
  if (value === "" || (value.length <= 63 && QUALIFIED_NAME.test(value))) return undefined;
  return "invalid label value: at most 63 letters, digits, '-', '_' and '.', " +
    "starting and ending with a letter or digit";
}

/** Why `name` is not an environment variable name. */
export function envVarNameProblem(name: string): string | undefined {
  if (ENV_VAR_NAME.test(name)) return undefined;
  return "must consist of letters, digits, '_', '-' and '.', and must not start with a digit";
}

/** Why `path` is not a mount path: it must be absolute and free of ':'. */
export function mountPathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "must be an absolute path";
  if (path.includes(":")) return "must not contain ':'";
  return undefined;
}
