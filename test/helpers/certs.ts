/** A throwaway self-signed certificate for TLS test servers (CN and SAN for 127.0.0.1). */
import { execFileSync } from "node:child_process";
import path from "node:path";

export function makeCert(dir: string, days = 2): { cert: string; key: string } {
  const cert = path.join(dir, "server.crt");
  const key = path.join(dir, "server.key");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      String(days),
      "-subj",
      "/CN=lab.redscope.test/O=redscope lab",
      "-addext",
      "subjectAltName=DNS:lab.redscope.test,IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    { stdio: "ignore" },
  );
  return { cert, key };
}

/** redis.conf lines for a TLS listener on `tlsPort` with this certificate (also the CA). */
export function tlsConfig(tlsPort: number, certs: { cert: string; key: string }): string[] {
  return [
    `tls-port ${tlsPort}`,
    `tls-cert-file ${certs.cert}`,
    `tls-key-file ${certs.key}`,
    `tls-ca-cert-file ${certs.cert}`,
  ];
}
