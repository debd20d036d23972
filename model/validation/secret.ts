/** The Secret manifest: `data` (base64 values), `stringData` (plain), `type`; keys as in Kubernetes. */
import { z } from "zod";
import { objectMeta } from "./common.ts";
import { dns1123SubdomainProblem } from "./formats.ts";

const KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const keyed = (value: z.ZodString) =>
  z.record(
    z.string().regex(KEY, "a key may hold only letters, digits, '-', '_' and '.'"),
    value,
  );

/** The schema of a Secret manifest. */
export const secretManifest = z.strictObject({
  apiVersion: z.literal("v1").describe('The version of the object\'s schema: "v1".'),
  kind: z.literal("Secret").describe('The kind of object: "Secret".'),
  metadata: objectMeta(dns1123SubdomainProblem).describe(
    "The secret's name, namespace, labels and annotations.",
  ),
  data: keyed(z.string().regex(BASE64, "must be base64 (use stringData for plain text)"))
    .optional().describe("Keys and their base64-encoded values."),
  stringData: keyed(z.string()).optional().describe(
    "Keys and plain-text values, stored as data (they win over data's keys of the same name).",
  ),
  type: z.string().min(1).optional().describe(
    '"Opaque" when left out; "kubernetes.io/dockerconfigjson" for registry credentials.',
  ),
  status: z.unknown().optional().describe("Accepted and ignored."),
}).describe(
  "A secret: named values that pods read as environment variables (valueFrom." +
    "secretKeyRef) and as registry credentials (imagePullSecrets).",
);
