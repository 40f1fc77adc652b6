/**
 * Audit targets: `redis://[user:pass@]host:port[/db]` and `rediss://…` (TLS). Credentials come
 * from the URL, else --user/--pass, else $REDISCLI_AUTH (as redis-cli reads it). They are never
 * printed: a target is shown as `redis://user@host:port`.
 */

export interface AuditTarget {
  tls: boolean;
  host: string;
  port: number;
  user?: string;
  password?: string;
  /** The target as printed: no password, ever. */
  label: string;
}

export class TargetError extends Error {}

export interface Credentials {
  user?: string;
  password?: string;
}

export function parseTarget(spec: string, fallback: Credentials = {}): AuditTarget {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new TargetError(`${JSON.stringify(redact(spec))}: not a redis:// or rediss:// URL`);
  }
  const scheme = url.protocol.replace(/:$/, "");
  if (scheme !== "redis" && scheme !== "rediss") {
    throw new TargetError(`${JSON.stringify(redact(spec))}: use redis:// or rediss://`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new TargetError(`${JSON.stringify(redact(spec))}: no host`);
  const port = url.port ? Number(url.port) : 6379;
  const user = url.username ? decodeURIComponent(url.username) : fallback.user;
  const password = url.password ? decodeURIComponent(url.password) : fallback.password;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const t: AuditTarget = {
    tls: scheme === "rediss",
    host,
    port,
    label: `${scheme}://${user ? `${encodeURIComponent(user)}@` : ""}${shownHost}:${port}`,
  };
  if (user !== undefined && user !== "") t.user = user;
  if (password !== undefined && password !== "") t.password = password;
  return t;
}

/** Targets from a file: one URL a line; blank lines and `#` comments are skipped. */
export function parseTargetList(text: string, fallback: Credentials = {}): AuditTarget[] {
  const out: AuditTarget[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    try {
      out.push(parseTarget(line, fallback));
    } catch (e) {
      throw new TargetError(`line ${i + 1}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** The spec with any password replaced, for error messages. */
function redact(spec: string): string {
  return spec.replace(/^(\w+:\/\/[^:@/]*:)[^@/]*@/, "$1***@");
}
