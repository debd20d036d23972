import assert from "node:assert/strict";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { X509Certificate } from "node:crypto";
import { certificateNames, ControllerPki, PKI_FILES, SERVER_CERT_DAYS } from "./pki.ts";

const DAY = 86_400_000;

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "milpa-pki-" });
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test("ControllerPki.open() makes a CA once and keeps it; keys are 0600", async () => {
  await withHome(async (home) => {
    const first = await ControllerPki.open({ home });
    assert.equal(await mode(`${home}/${PKI_FILES.caKey}`), 0o600);
    assert.equal(await mode(`${home}/${PKI_FILES.caCert}`), 0o644);
    const ca = new x509.X509Certificate(first.caCertificate);
    assert.ok(await ca.isSelfSigned());
    const bc = ca.getExtension(x509.BasicConstraintsExtension);
    assert.equal(bc?.ca, true);
    const ku = ca.getExtension(x509.KeyUsagesExtension);
    assert.ok(ku && (ku.usages & x509.KeyUsageFlags.keyCertSign));
    const again = await ControllerPki.open({ home });
    assert.equal(again.caCertificate, first.caCertificate);
  });
});

Deno.test("ControllerPki.open() refuses a lone CA file or a key of another CA", async () => {
  await withHome(async (home) => {
    await ControllerPki.open({ home });
    const key = await Deno.readTextFile(`${home}/${PKI_FILES.caKey}`);
    await Deno.remove(`${home}/${PKI_FILES.caKey}`);
    await assert.rejects(ControllerPki.open({ home }), /ca\.key is missing beside .*ca\.crt/);
    await withHome(async (other) => {
      await ControllerPki.open({ home: other });
      await Deno.copyFile(`${other}/${PKI_FILES.caKey}`, `${home}/${PKI_FILES.caKey}`);
    });
    await assert.rejects(ControllerPki.open({ home }), /ca\.key is not the key of .*ca\.crt/);
    await Deno.writeTextFile(`${home}/${PKI_FILES.caKey}`, key);
    await ControllerPki.open({ home });
  });
});

Deno.test("serverCertificate() issues a serverAuth certificate for loopback, the configured names and the hosts", async () => {
  await withHome(async (home) => {
    const pki = await ControllerPki.open({
      home,
      subjectAltNames: ["Milpa.Example.com", "10.1.2.3"],
    });
    const { cert, key } = await pki.serverCertificate(["192.0.2.7", "0.0.0.0"]);
    assert.equal(await mode(`${home}/${PKI_FILES.serverKey}`), 0o600);
    assert.equal(await Deno.readTextFile(`${home}/${PKI_FILES.serverCert}`), cert);
    assert.match(key, /^-----BEGIN PRIVATE KEY-----/);
    const c = new x509.X509Certificate(cert);
    assert.deepEqual(certificateNames(new X509Certificate(cert)).sort(), [
      "10.1.2.3",
      "127.0.0.1",
      "192.0.2.7",
      "::1",
      "localhost",
      "milpa.example.com",
    ]);
    const ca = new x509.X509Certificate(pki.caCertificate);
    assert.ok(await c.verify({ publicKey: ca, signatureOnly: true }), "signed by the CA");
    const eku = c.getExtension(x509.ExtendedKeyUsageExtension);
    assert.deepEqual([...eku?.usages ?? []], [x509.ExtendedKeyUsage.serverAuth]);
    const days = (c.notAfter.getTime() - Date.now()) / DAY;
    assert.ok(days > SERVER_CERT_DAYS - 1 && days <= SERVER_CERT_DAYS, `${days} days`);
  });
});

Deno.test("serverCertificate() keeps a certificate across restarts until names change or it nears its end", async () => {
  await withHome(async (home) => {
    let now = new Date();
    const open = () => ControllerPki.open({ home, now: () => now });
    const first = await (await open()).serverCertificate(["192.0.2.7"]);
    // Another start: same names; and a listener that needs fewer names keeps the wider one.
    assert.equal((await (await open()).serverCertificate(["192.0.2.7"], "exact")).cert, first.cert);
    assert.equal((await (await open()).serverCertificate([])).cert, first.cert);
    // "exact" drops a name nobody needs any more.
    const fewer = await (await open()).serverCertificate([], "exact");
    assert.notEqual(fewer.cert, first.cert);
    assert.ok(!certificateNames(new X509Certificate(fewer.cert)).includes("192.0.2.7"));
    // A new name: a new certificate from the same CA.
    const pki = await open();
    const more = await pki.serverCertificate(["192.0.2.8"]);
    assert.ok(certificateNames(new X509Certificate(more.cert)).includes("192.0.2.8"));
    assert.equal((await open()).caCertificate, pki.caCertificate);
    // 29 days before the end: renewed.
    now = new Date(Date.now() + (SERVER_CERT_DAYS - 29) * DAY);
    const renewed = await (await open()).serverCertificate(["192.0.2.8"]);
    assert.notEqual(renewed.cert, more.cert);
    assert.ok(
      new x509.X509Certificate(renewed.cert).notAfter.getTime() > now.getTime() + 300 * DAY,
    );
  });
});

Deno.test("serverCertificate() replaces a server certificate of another CA or a broken file", async () => {
  await withHome(async (home) => {
    await withHome(async (other) => {
      const foreign = await (await ControllerPki.open({ home: other })).serverCertificate([]);
      await Deno.writeTextFile(`${home}/${PKI_FILES.serverCert}`, foreign.cert);
      await Deno.writeTextFile(`${home}/${PKI_FILES.serverKey}`, foreign.key);
    });
    const pki = await ControllerPki.open({ home });
    const mine = await pki.serverCertificate([]);
    const ca = new x509.X509Certificate(pki.caCertificate);
    assert.ok(await new x509.X509Certificate(mine.cert).verify({ publicKey: ca }));
    await Deno.writeTextFile(`${home}/${PKI_FILES.serverCert}`, "garbage");
    const fresh = await (await ControllerPki.open({ home })).serverCertificate([]);
    assert.notEqual(fresh.cert, mine.cert);
  });
});

Deno.test("a TLS server with the certificate is trusted by a client given the CA, and by no other", async () => {
  await withHome(async (home) => {
    const pki = await ControllerPki.open({ home });
    const { cert, key } = await pki.serverCertificate([]);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert, key, onListen: () => {} },
      () => new Response("ok"),
    );
    const port = server.addr.port;
    const trusting = Deno.createHttpClient({ caCerts: [pki.caCertificate] });
    try {
      for (const host of ["127.0.0.1", "localhost"]) {
        const res = await fetch(`https://${host}:${port}/`, { client: trusting });
        assert.equal(await res.text(), "ok");
      }
      await withHome(async (other) => {
        const stranger = Deno.createHttpClient({
          caCerts: [(await ControllerPki.open({ home: other })).caCertificate],
        });
        try {
          await assert.rejects(
            fetch(`https://127.0.0.1:${port}/`, { client: stranger }),
            (e: Error) => /UnknownIssuer|certificate/i.test(String(e.cause ?? e.message)),
          );
        } finally {
          stranger.close();
        }
      });
    } finally {
      trusting.close();
      await server.shutdown();
    }
  });
});

Deno.test("a restart with valid certificates does not load @peculiar/x509; making them does", async () => {
  // reflect-metadata, which @peculiar/x509 needs and pki.ts loads with it, defines
  // Reflect.getMetadata: it tells in a fresh process whether the library was loaded.
  const loads = async (home: string): Promise<boolean> => {
    const pki = new URL("./pki.ts", import.meta.url).href;
    const code = `const { ControllerPki } = await import(${JSON.stringify(pki)});
      const p = await ControllerPki.open({ home: ${JSON.stringify(home)} });
      await p.serverCertificate(["192.0.2.7"]);
      console.log(typeof (Reflect as any).getMetadata);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim() === "function";
  };
  await withHome(async (home) => {
    assert.equal(await loads(home), true, "a first start makes the CA and the certificate");
    const cert = await Deno.readTextFile(`${home}/${PKI_FILES.serverCert}`);
    assert.equal(await loads(home), false, "a restart only reads and checks them");
    assert.equal(await Deno.readTextFile(`${home}/${PKI_FILES.serverCert}`), cert, "kept");
  });
});
