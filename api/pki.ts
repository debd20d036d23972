/**
 * The controller's PKI. On first start it makes an ECDSA P-256 CA and keeps it in MILPA_HOME
 * (`ca.key`, `ca.crt`) for good: node agents, `client.yaml` and `$MILPA_HOME/ca.crt` users trust
 * it and nothing else. The CA signs the API's server certificate (`server.key`, `server.crt`)
 * for loopback, the configured `tls.subjectAltNames` and the addresses the controller listens
 * at; a new one is issued when names are missing (or, asked for an exact match, superfluous),
 * when it has under 30 days left, or when it does not belong to the CA. Keys are files of
 * mode 0600, written whole (a temporary file renamed into place).
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { MilpaError } from "../model/errors.ts";
import { canonicalName, isIpAddress, isSpecificHost } from "./tls_names.ts";

/** A server certificate and its key, as PEM (what `Deno.serve` takes as `cert` and `key`). */
export interface ServerCertificate {
  cert: string;
  key: string;
}

/** What the controller serves TLS with. */
export interface ControllerTls {
  /** PEM of the CA: the one certificate nodes and milpactl trust. */
  caCertificate: string;
  /**
   * A certificate for `hosts` besides the names every server certificate carries. "covers"
   * keeps one that has these names and more; "exact" replaces one with names beyond them.
   */
  serverCertificate(hosts: string[], match?: "covers" | "exact"): Promise<ServerCertificate>;
}

/** Options of {@linkcode ControllerPki.open}. */
export interface PkiOptions {
  /** Where the four files live (MILPA_HOME). */
  home: string;
  /** Names and addresses every server certificate carries besides 127.0.0.1, ::1 and localhost. */
  subjectAltNames?: string[];
  /** @default () => new Date() */
  now?: () => Date;
}

/** Names every server certificate carries. */
export const LOOPBACK_NAMES = ["127.0.0.1", "::1", "localhost"];

/** Days a server certificate is valid. */
export const SERVER_CERT_DAYS = 365;
/** A server certificate with fewer days left is replaced at start. */
export const RENEW_DAYS = 30;
/** Years the CA is valid. */
const CA_YEARS = 20;
const DAY_MS = 86_400_000;
/** Allowance for clocks behind ours. */
const BACKDATE_MS = 5 * 60_000;

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** The files of the PKI in MILPA_HOME. */
export const PKI_FILES = {
  caKey: "ca.key",
  caCert: "ca.crt",
  serverKey: "server.key",
  serverCert: "server.crt",
} as const;

function serialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // positive
  bytes[0] |= 0x01; // no leading zero byte
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, text, { mode });
  await Deno.chmod(tmp, mode);
  await Deno.rename(tmp, path);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

function keyPem(pkcs8: ArrayBuffer): string {
  return x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
}

async function importKey(pem: string): Promise<CryptoKey> {
  return await crypto.subtle.importKey(
    "pkcs8",
    x509.PemConverter.decodeFirst(pem),
    ALG,
    true,
    ["sign"],
  );
}

/** Whether `key` is the private key of `cert`'s public key. */
async function keyMatches(key: CryptoKey, cert: x509.X509Certificate): Promise<boolean> {
  const priv = await crypto.subtle.exportKey("jwk", key);
  const pub = await crypto.subtle.exportKey("jwk", await cert.publicKey.export());
  return priv.x === pub.x && priv.y === pub.y;
}

/** The canonical names of a certificate's subjectAltName extension. */
export function certificateNames(cert: x509.X509Certificate): string[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return (san?.names.items ?? []).map((n) => canonicalName(n.value));
}

/** The controller's CA and its server certificate, in MILPA_HOME. */
export class ControllerPki implements ControllerTls {
  readonly caCertificate: string;
  readonly #ca: x509.X509Certificate;
  readonly #caKey: CryptoKey;
  readonly #o: PkiOptions;
  readonly #fixed: string[];
  #server?: { cert: x509.X509Certificate; pem: ServerCertificate };

  private constructor(o: PkiOptions, ca: x509.X509Certificate, caKey: CryptoKey) {
    this.#o = o;
    this.#ca = ca;
    this.#caKey = caKey;
    this.caCertificate = ca.toString("pem") + "\n";
    this.#fixed = unique([...LOOPBACK_NAMES, ...(o.subjectAltNames ?? [])]);
  }

  /**
   * Loads the CA from `home`, making one when neither `ca.key` nor `ca.crt` exists. A lone or
   * unreadable file, or a key that is not the certificate's, is an error: replacing the CA would
   * cut off every node and client that trusts it.
   */
  static async open(o: PkiOptions): Promise<ControllerPki> {
    const keyPath = `${o.home}/${PKI_FILES.caKey}`;
    const certPath = `${o.home}/${PKI_FILES.caCert}`;
    const [keyText, certText] = await Promise.all([readIfExists(keyPath), readIfExists(certPath)]);
    if (keyText === undefined && certText === undefined) {
      const { cert, key } = await createCa(o.now?.() ?? new Date());
      // The key first: a crash between the two leaves a lone key, reported, never a lone cert.
      await writeAtomic(keyPath, keyPem(await crypto.subtle.exportKey("pkcs8", key)), 0o600);
      await writeAtomic(certPath, cert.toString("pem") + "\n", 0o644);
      return new ControllerPki(o, cert, key);
    }
    if (keyText === undefined || certText === undefined) {
      throw new MilpaError(
        `the controller's CA is incomplete: ${keyText === undefined ? keyPath : certPath} is ` +
          `missing beside ${keyText === undefined ? certPath : keyPath}; restore it, or remove ` +
          `both to make a new CA (nodes and client.yaml files that trust the old one stop working)`,
      );
    }
    let cert: x509.X509Certificate, key: CryptoKey;
    try {
      cert = new x509.X509Certificate(certText);
      key = await importKey(keyText);
    } catch (e) {
      throw new MilpaError(
        `cannot read the controller's CA (${certPath}, ${keyPath}): ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (!(await keyMatches(key, cert))) {
      throw new MilpaError(`${keyPath} is not the key of ${certPath}`);
    }
    await tighten(keyPath);
    return new ControllerPki(o, cert, key);
  }

  /** The CA certificate, parsed. */
  get ca(): x509.X509Certificate {
    return this.#ca;
  }

  async serverCertificate(
    hosts: string[],
    match: "covers" | "exact" = "covers",
  ): Promise<ServerCertificate> {
    const wanted = unique([...this.#fixed, ...hosts.filter(isSpecificHost)]);
    this.#server ??= await this.#loadServer();
    const now = this.#o.now?.() ?? new Date();
    if (this.#server && await this.#fits(this.#server.cert, wanted, match, now)) {
      return this.#server.pem;
    }
    const issued = await this.#issue(wanted, now);
    this.#server = issued;
    const dir = this.#o.home;
    await writeAtomic(`${dir}/${PKI_FILES.serverKey}`, issued.pem.key, 0o600);
    await writeAtomic(`${dir}/${PKI_FILES.serverCert}`, issued.pem.cert, 0o644);
    return issued.pem;
  }

  async #loadServer(): Promise<{ cert: x509.X509Certificate; pem: ServerCertificate } | undefined> {
    const keyPath = `${this.#o.home}/${PKI_FILES.serverKey}`;
    const [key, cert] = await Promise.all([
      readIfExists(keyPath),
      readIfExists(`${this.#o.home}/${PKI_FILES.serverCert}`),
    ]);
    if (!key || !cert) return undefined;
    try {
      const parsed = new x509.X509Certificate(cert);
      if (!(await keyMatches(await importKey(key), parsed))) return undefined;
      await tighten(keyPath);
      return { cert: parsed, pem: { cert, key } };
    } catch {
      return undefined; // unreadable: a new one replaces it
    }
  }

  async #fits(
    cert: x509.X509Certificate,
    wanted: string[],
    match: "covers" | "exact",
    now: Date,
  ): Promise<boolean> {
    if (cert.notAfter.getTime() - now.getTime() < RENEW_DAYS * DAY_MS) return false;
    if (cert.notBefore.getTime() > now.getTime()) return false;
    if (cert.issuer !== this.#ca.subject) return false;
    if (!(await cert.verify({ publicKey: this.#ca, signatureOnly: true }))) return false;
    const names = new Set(certificateNames(cert));
    if (!wanted.every((n) => names.has(n))) return false;
    return match === "covers" || names.size === wanted.length;
  }

  async #issue(names: string[], now: Date) {
    const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: "CN=Milpa controller",
      issuer: this.#ca.subject,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + SERVER_CERT_DAYS * DAY_MS),
      signingKey: this.#caKey,
      publicKey: keys.publicKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          names.map((n) => ({ type: isIpAddress(n) ? "ip" as const : "dns" as const, value: n })),
        ),
        await x509.AuthorityKeyIdentifierExtension.create(this.#ca),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const key = keyPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
    return { cert, pem: { cert: cert.toString("pem") + "\n", key } };
  }
}

async function createCa(now: Date): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
  const tag = Array.from(
    crypto.getRandomValues(new Uint8Array(4)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    // A tag tells apart the CAs of several controllers in one trust store.
    name: `CN=Milpa CA ${tag}, O=Milpa`,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, key: keys.privateKey };
}

/** Makes a key file readable by its owner only, should someone have loosened it. */
async function tighten(path: string): Promise<void> {
  const { mode } = await Deno.stat(path);
  if (mode !== null && (mode & 0o077) !== 0) await Deno.chmod(path, 0o600);
}

function unique(names: string[]): string[] {
  return [...new Set(names.map(canonicalName).filter((n) => n !== ""))];
}
