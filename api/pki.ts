/**
 * The controller's PKI. On first start it makes an ECDSA P-256 CA and keeps it in MILPA_HOME
 * (`ca.key`, `ca.crt`) for good: node agents, `client.yaml` and `$MILPA_HOME/ca.crt` users trust
 * it and nothing else. The CA signs the API's server certificate (`server.key`, `server.crt`)
 * for loopback, the configured `tls.subjectAltNames` and the addresses the controller listens
 * at; a new one is issued when names are missing (or, asked for an exact match, superfluous),
 * when it has under 30 days left, or when it does not belong to the CA. Keys are files of
 * mode 0600, written whole (a temporary file renamed into place).
 *
 * Certificates are read and checked with node:crypto; @peculiar/x509 is loaded only to make one
 * (a first start, a renewal): a restart with valid certificates does not pay its ~150 ms import.
 */
import type * as X509Lib from "@peculiar/x509";
import { Buffer } from "node:buffer";
import { createPrivateKey, X509Certificate } from "node:crypto";
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

let x509Lib: Promise<typeof X509Lib> | undefined;

/** @peculiar/x509 (with the reflect-metadata it needs), loaded on first use: to make certificates. */
function loadX509(): Promise<typeof X509Lib> {
  return x509Lib ??= import("reflect-metadata").then(() => import("@peculiar/x509"));
}

/** A PKCS #8 key as PEM. */
function keyPem(pkcs8: ArrayBuffer): string {
  return createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" })
    .export({ format: "pem", type: "pkcs8" }) as string;
}

/** A PEM private key as WebCrypto's signing key. */
async function importKey(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ format: "der", type: "pkcs8" });
  return await crypto.subtle.importKey("pkcs8", new Uint8Array(der), ALG, true, ["sign"]);
}

/** Whether the PEM key `key` is the private key of `cert`'s public key (throws if unreadable). */
function keyMatches(key: string, cert: X509Certificate): boolean {
  return cert.checkPrivateKey(createPrivateKey(key));
}

/** The canonical names of a certificate's subjectAltName extension (DNS names and addresses). */
export function certificateNames(cert: X509Certificate): string[] {
  // node:crypto lists them as "DNS:localhost, IP Address:127.0.0.1"; our names have no ", ".
  return (cert.subjectAltName ?? "").split(", ").flatMap((entry) => {
    const m = /^(DNS|IP Address):(.*)$/.exec(entry);
    return m ? [canonicalName(m[2])] : [];
  });
}

/** A certificate as PEM, ending with a newline. */
function certPem(cert: { toString(format?: "pem"): string }): string {
  const pem = cert.toString("pem");
  return pem.endsWith("\n") ? pem : pem + "\n";
}

/** The controller's CA and its server certificate, in MILPA_HOME. */
export class ControllerPki implements ControllerTls {
  readonly caCertificate: string;
  readonly #ca: X509Certificate;
  /** The CA's key, PEM; imported for signing only when a certificate is made. */
  readonly #caKeyPem: string;
  readonly #o: PkiOptions;
  readonly #fixed: string[];
  #server?: { cert: X509Certificate; pem: ServerCertificate };

  private constructor(o: PkiOptions, caPem: string, caKeyPem: string) {
    this.#o = o;
    this.#ca = new X509Certificate(caPem);
    this.#caKeyPem = caKeyPem;
    this.caCertificate = certPem(this.#ca);
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
      await writeAtomic(keyPath, key, 0o600);
      await writeAtomic(certPath, cert, 0o644);
      return new ControllerPki(o, cert, key);
    }
    if (keyText === undefined || certText === undefined) {
      throw new MilpaError(
        `the controller's CA is incomplete: ${keyText === undefined ? keyPath : certPath} is ` +
          `missing beside ${keyText === undefined ? certPath : keyPath}; restore it, or remove ` +
          `both to make a new CA (nodes and client.yaml files that trust the old one stop working)`,
      );
    }
    let matches: boolean;
    try {
      matches = keyMatches(keyText, new X509Certificate(certText));
    } catch (e) {
      throw new MilpaError(
        `cannot read the controller's CA (${certPath}, ${keyPath}): ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (!matches) throw new MilpaError(`${keyPath} is not the key of ${certPath}`);
    await tighten(keyPath);
    return new ControllerPki(o, certText, keyText);
  }

  async serverCertificate(
    hosts: string[],
    match: "covers" | "exact" = "covers",
  ): Promise<ServerCertificate> {
    const wanted = unique([...this.#fixed, ...hosts.filter(isSpecificHost)]);
    this.#server ??= await this.#loadServer();
    const now = this.#o.now?.() ?? new Date();
    if (this.#server && this.#fits(this.#server.cert, wanted, match, now)) {
      return this.#server.pem;
    }
    const issued = await this.#issue(wanted, now);
    this.#server = issued;
    const dir = this.#o.home;
    await writeAtomic(`${dir}/${PKI_FILES.serverKey}`, issued.pem.key, 0o600);
    await writeAtomic(`${dir}/${PKI_FILES.serverCert}`, issued.pem.cert, 0o644);
    return issued.pem;
  }

  async #loadServer(): Promise<{ cert: X509Certificate; pem: ServerCertificate } | undefined> {
    const keyPath = `${this.#o.home}/${PKI_FILES.serverKey}`;
    const [key, cert] = await Promise.all([
      readIfExists(keyPath),
      readIfExists(`${this.#o.home}/${PKI_FILES.serverCert}`),
    ]);
    if (!key || !cert) return undefined;
    try {
      const parsed = new X509Certificate(cert);
      if (!keyMatches(key, parsed)) return undefined;
      await tighten(keyPath);
      return { cert: parsed, pem: { cert, key } };
    } catch {
      return undefined; // unreadable: a new one replaces it
    }
  }

  #fits(cert: X509Certificate, wanted: string[], match: "covers" | "exact", now: Date): boolean {
    if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_DAYS * DAY_MS) return false;
    if (new Date(cert.validFrom).getTime() > now.getTime()) return false;
    if (cert.issuer !== this.#ca.subject) return false;
    if (!cert.verify(this.#ca.publicKey)) return false;
    const names = new Set(certificateNames(cert));
    if (!wanted.every((n) => names.has(n))) return false;
    return match === "covers" || names.size === wanted.length;
  }

  async #issue(names: string[], now: Date) {
    const x509 = await loadX509();
    const ca = new x509.X509Certificate(this.caCertificate);
    const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: "CN=Milpa controller",
      issuer: ca.subject,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + SERVER_CERT_DAYS * DAY_MS),
      signingKey: await importKey(this.#caKeyPem),
      publicKey: keys.publicKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          names.map((n) => ({ type: isIpAddress(n) ? "ip" as const : "dns" as const, value: n })),
        ),
        await x509.AuthorityKeyIdentifierExtension.create(ca),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const key = keyPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
    const pem = certPem(cert);
    return { cert: new X509Certificate(pem), pem: { cert: pem, key } };
  }
}

/** A new CA: its certificate and key, PEM. */
async function createCa(now: Date): Promise<{ cert: string; key: string }> {
  const x509 = await loadX509();
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
  return {
    cert: certPem(cert),
    key: keyPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
  };
}

/** Makes a key file readable by its owner only, should someone have loosened it. */
async function tighten(path: string): Promise<void> {
  const { mode } = await Deno.stat(path);
  if (mode !== null && (mode & 0o077) !== 0) await Deno.chmod(path, 0o600);
}

function unique(names: string[]): string[] {
  return [...new Set(names.map(canonicalName).filter((n) => n !== ""))];
}
