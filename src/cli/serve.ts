/** `redscope serve`: the dashboard over the store, on 127.0.0.1 unless told otherwise. */

import { isIP } from "node:net";
import type { Command } from "commander";
import { isLoopback, newToken } from "../serve/security.js";
import { Dashboard } from "../serve/server.js";
import type { StoreDamagedError } from "../store/index.js";
import { fail } from "./errors.js";
import { openStoreOrFail, readOrFail } from "./open.js";
import { parseIntIn } from "./units.js";

interface ServeFlags {
  listen: string;
  db?: string;
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
  allowHost?: string[];
  exportRows?: string;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("the web dashboard over scans, reports, the honeypot and audits")
    .option(
      "--listen <addr:port>",
      "where to listen (beyond loopback a login token is required)",
      "127.0.0.1:8080",
    )
    .option(
      "--db <path|url>",
      "store: SQLite file or postgres://… (default $REDSCOPE_DB or ~/.local/share/redscope/redscope.db)",
    )
    .option(
      "--token <token>",
      "login token (default $REDSCOPE_TOKEN; beyond loopback one is made and printed once)",
    )
    .option("--tls-cert <file>", "serve HTTPS with this certificate (PEM)")
    .option("--tls-key <file>", "… and this private key (PEM)")
    .option("--export-rows <n>", "most rows one /export download holds", "1000000")
    .option(
      "--allow-host <name>",
      "another Host name to answer to (a proxy's); repeatable",
      collect,
    )
    .action(async (flags: ServeFlags) => {
      process.exitCode = await runServe(flags);
    });
}

async function runServe(flags: ServeFlags): Promise<number> {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(flags.listen);
  if (!m) fail(`--listen ${JSON.stringify(flags.listen).slice(0, 80)}: expected ADDR:PORT`);
  const host = m[1]!.replace(/^\[|\]$/g, "");
  if (isIP(host) === 0 && host !== "localhost") fail(`--listen: ${host} is not an IP address`);
  const port = Number(m[2]);
  if (port > 65535) fail("--listen: port must be 0-65535 (0: any free port)");
  const exportRows = parseIntIn("--export-rows", flags.exportRows ?? "1000000", 1, 100_000_000);
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    fail("--tls-cert and --tls-key go together");
  }
  for (const h of flags.allowHost ?? []) {
    if (!/^[a-z0-9.-]+(:\d{1,5})?$/i.test(h))
      fail(`--allow-host ${JSON.stringify(h).slice(0, 80)}: a host name`);
  }
  let token = flags.token ?? process.env.REDSCOPE_TOKEN;
  if (token !== undefined && token.length < 16)
    fail("the login token must have at least 16 characters");
  let generated = false;
  if (token === undefined && !isLoopback(host)) {
    token = newToken();
    generated = true;
  }
  const tls =
    flags.tlsCert !== undefined && flags.tlsKey !== undefined
      ? {
          cert: readOrFail(flags.tlsCert, "--tls-cert"),
          key: readOrFail(flags.tlsKey, "--tls-key"),
        }
      : undefined;
  const store = await openStoreOrFail(flags.db);
  // Runs until a signal, or until the store turns out to be damaged (then that is the error).
  let damaged: StoreDamagedError | undefined;
  let stop = (): void => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const dash = new Dashboard({
    store,
    host,
    port,
    ...(token !== undefined ? { token } : {}),
    ...(tls ? { tls } : {}),
    ...(flags.allowHost ? { allowHosts: flags.allowHost } : {}),
    exportRows,
    onStoreDamaged: (e) => {
      damaged ??= e;
      stop();
    },
  });
  let url: string;
  try {
    url = await dash.start();
  } catch (e) {
    await store.close();
    fail(`--listen ${flags.listen}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  process.stderr.write(`redscope serve: dashboard on ${url} over ${store.location}\n`);
  if (generated) {
    process.stderr.write(`redscope serve: login token (shown once, not stored): ${token}\n`);
  } else if (token !== undefined) {
    process.stderr.write("redscope serve: log in with the token you gave\n");
  }
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  await stopped;
  process.off("SIGINT", stop);
  process.off("SIGTERM", stop);
  await dash.close();
  await store.close();
  if (damaged) throw damaged;
  return 0;
}
