import assert from "node:assert/strict";
import { ImageReferenceError } from "./errors.ts";
import {
  canonicalRegistry,
  formatReference,
  isLoopback,
  manifestKey,
  parseReference,
  registryBaseURL,
} from "./reference.ts";

const DIGEST = `sha256:${"ab".repeat(32)}`;

Deno.test("parseReference() fills Docker Hub, library/ and latest", () => {
  assert.deepEqual(parseReference("nginx"), {
    registry: "docker.io",
    repository: "library/nginx",
    tag: "latest",
  });
  assert.deepEqual(parseReference("library/python:3.12-alpine"), {
    registry: "docker.io",
    repository: "library/python",
    tag: "3.12-alpine",
  });
  assert.deepEqual(parseReference("bitnami/redis"), {
    registry: "docker.io",
    repository: "bitnami/redis",
    tag: "latest",
  });
});

Deno.test("parseReference() reads registry hosts with ports, localhost and digests", () => {
  assert.deepEqual(parseReference(`registry:5000/x/y@${DIGEST}`), {
    registry: "registry:5000",
    repository: "x/y",
    digest: DIGEST,
  });
  assert.deepEqual(parseReference("localhost/app:v1"), {
    registry: "localhost",
    repository: "app",
    tag: "v1",
  });
  assert.deepEqual(parseReference(`127.0.0.1:5000/a/b/c:1.0@${DIGEST}`), {
    registry: "127.0.0.1:5000",
    repository: "a/b/c",
    tag: "1.0",
    digest: DIGEST,
  });
  assert.equal(parseReference("index.docker.io/library/nginx").registry, "docker.io");
});

Deno.test("parseReference() rejects bad references with the reason", () => {
  for (
    const [text, why] of [
      ["", /empty/],
      ["Nginx", /lowercase/],
      ["nginx:bad tag", /tag/],
      ["nginx@sha256:123", /digest/],
      ["a//b", /empty path component/],
      ["reg.io/UPPER", /UPPER/],
    ] as const
  ) {
    assert.throws(() => parseReference(text), (err: Error) => {
      assert.ok(err instanceof ImageReferenceError);
      assert.match(err.message, why);
      return true;
    });
  }
});

Deno.test("formatReference() and manifestKey() prefer the digest", () => {
  const ref = parseReference(`nginx:1@${DIGEST}`);
  assert.equal(formatReference(ref), `docker.io/library/nginx:1@${DIGEST}`);
  assert.equal(manifestKey(ref), DIGEST);
  assert.equal(manifestKey(parseReference("nginx")), "latest");
});

Deno.test("canonicalRegistry() folds Docker Hub's names and drops schemes and paths", () => {
  assert.equal(canonicalRegistry("https://index.docker.io/v1/"), "docker.io");
  assert.equal(canonicalRegistry("registry-1.docker.io"), "docker.io");
  assert.equal(canonicalRegistry("http://Reg.Example:5000/v2/"), "reg.example:5000");
});

Deno.test("registryBaseURL() uses HTTP for loopback and listed registries only", () => {
  assert.equal(registryBaseURL("docker.io"), "https://registry-1.docker.io");
  assert.equal(registryBaseURL("127.0.0.1:5000"), "http://127.0.0.1:5000");
  assert.equal(registryBaseURL("localhost:5000"), "http://localhost:5000");
  assert.equal(registryBaseURL("[::1]:5000"), "http://[::1]:5000");
  assert.equal(registryBaseURL("reg.lan:5000"), "https://reg.lan:5000");
  assert.equal(registryBaseURL("reg.lan:5000", ["reg.lan:5000"]), "http://reg.lan:5000");
  assert.equal(registryBaseURL("reg.lan:5000", ["reg.lan"]), "http://reg.lan:5000");
  assert.equal(registryBaseURL("reg.lan:5000", ["other.lan"]), "https://reg.lan:5000");
  assert.ok(isLoopback("127.3.2.1:80"));
  assert.ok(!isLoopback("128.0.0.1"));
});
