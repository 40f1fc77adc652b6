/**
 * `redscope audit`: check servers you own against hardening advice; exit 1 on findings, and on
 * checks that could not run unless --allow-incomplete.
 */
import fs from "node:fs";
import type { Command } from "commander";
import {
  CHECKS,
  exitStatus,
  parseTarget,
  parseTargetList,
  renderJson,
  renderSarif,
  renderText,
  TargetError,
} from "../audit/index.js";
import { type AuditReport, SEVERITIES, type Severity } from "../schema/audit.js";
import { keepReports, runAudits } from "../usecases/audit.js";
import { fail } from "./errors.js";
import { openStoreOrFail } from "./open.js";
import { parseDuration } from "./units.js";
import { VERSION } from "./version.js";

interface AuditFlags {
  targetsFile?: string;
  user?: string;
  pass?: string;
  format: string;
  output?: string;
  failOn: string;
  allowPeer?: string[];
  skip?: string[];
  timeout: string;
  weakPasswords: boolean;
  allowIncomplete?: boolean;
  tlsInsecure?: boolean;
  tlsCa?: string;
  db?: string | boolean;
  intelDir?: string;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function registerAudit(program: Command): void {
  program
    .command("audit")
    .description("check Redis servers you own against hardening advice (read-only)")
    .argument("[urls...]", "redis://[user:pass@]host:port or rediss://… (TLS)")
    .option("--targets-file <file>", "more targets, one URL a line (# comments)")
    .option("--user <name>", "ACL user when the URL names none")
    .option("--pass <password>", "password when the URL has none (default $REDISCLI_AUTH)")
    .option("-f, --format <fmt>", "text, json or sarif", "text")
    .option("-o, --output <file>", "write the report here instead of stdout")
    .option(
      "--fail-on <severity>",
      `exit 1 at this severity or above (${SEVERITIES.join(", ")})`,
      "high",
    )
    .option("--allow-peer <host[:port]>", "an expected replication peer; repeatable", collect)
    .option("--skip <id>", "a check not to run (e.g. RS-VER-001); repeatable", collect)
    .option("--timeout <t>", "connect and per-command timeout", "5s")
    .option(
      "--no-weak-passwords",
      "servers before 6.0 without a given password: do not try the short list of weak passwords online (6.0+ are checked offline, from ACL LIST's hashes)",
    )
    .option(
      "--allow-incomplete",
      "exit 0 even when some checks could not run (they are still listed as not checked)",
    )
    .option("--tls-insecure", "rediss://: do not verify the server's certificate")
    .option("--tls-ca <file>", "rediss://: CA certificates (PEM) to verify the server with")
    .option(
      "--intel-dir <dir>",
      "the CVE table to judge the version by: its cves.json when refreshed, else the bundled one (default $REDSCOPE_INTEL_DIR or ~/.local/share/redscope/intel)",
    )
    .option(
      "--db [path|url]",
      "also keep the reports in the store, for redscope serve (default $REDSCOPE_DB or ~/.local/share/redscope/redscope.db)",
    )
    .action(async (urls: string[], flags: AuditFlags) => {
      process.exitCode = await runAudit(urls, flags);
    });
}

async function runAudit(urls: string[], flags: AuditFlags): Promise<number> {
  if (!["text", "json", "sarif"].includes(flags.format)) {
    fail(`--format ${JSON.stringify(flags.format)}: use text, json or sarif`);
  }
  if (!(SEVERITIES as readonly string[]).includes(flags.failOn)) {
    fail(`--fail-on ${JSON.stringify(flags.failOn)}: use one of ${SEVERITIES.join(", ")}`);
  }
  const timeoutMs = parseDuration("--timeout", flags.timeout);
  const ids = new Set(CHECKS.map((c) => c.id));
  for (const id of flags.skip ?? []) {
    if (!ids.has(id)) fail(`--skip ${JSON.stringify(id)}: no such check (${[...ids].join(", ")})`);
  }
  const fallback = {
    ...(flags.user !== undefined ? { user: flags.user } : {}),
    ...((flags.pass ?? process.env.REDISCLI_AUTH) !== undefined
      ? { password: (flags.pass ?? process.env.REDISCLI_AUTH)! }
      : {}),
  };
  const targets = [];
  try {
    for (const u of urls) targets.push(parseTarget(u, fallback));
    if (flags.targetsFile !== undefined) {
      let text: string;
      try {
        text = fs.readFileSync(flags.targetsFile, "utf8");
      } catch (e) {
        fail(
          `--targets-file ${flags.targetsFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
      targets.push(...parseTargetList(text, fallback));
    }
  } catch (e) {
    if (e instanceof TargetError) fail(e.message);
    throw e;
  }
  if (targets.length === 0) fail("no target: give redis://host:port or --targets-file");
  let ca: Buffer | undefined;
  if (flags.tlsCa !== undefined) {
    try {
      ca = fs.readFileSync(flags.tlsCa);
    } catch (e) {
      fail(`--tls-ca ${flags.tlsCa}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  // Opened before auditing: a store that cannot be opened fails the run before it starts.
  const store =
    flags.db === undefined || flags.db === false
      ? undefined
      : await openStoreOrFail(typeof flags.db === "string" ? flags.db : undefined);
  let reports: AuditReport[];
  try {
    reports = await runAudits({
      targets,
      options: {
        timeoutMs,
        tlsVerify: !flags.tlsInsecure,
        ...(ca ? { ca } : {}),
        allowPeers: new Set(flags.allowPeer ?? []),
        tryWeakPasswords: flags.weakPasswords,
        skip: new Set(flags.skip ?? []),
      },
      ...(flags.intelDir !== undefined ? { intelDir: flags.intelDir } : {}),
    });
  } catch (e) {
    await store?.close();
    throw e;
  }
  const failOn = flags.failOn as Severity;
  const text =
    flags.format === "json"
      ? renderJson(reports)
      : flags.format === "sarif"
        ? renderSarif(reports, VERSION, CHECKS)
        : renderText(reports, failOn);
  if (flags.output !== undefined) {
    try {
      fs.writeFileSync(flags.output, text);
    } catch (e) {
      fail(
        `--output ${flags.output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  } else process.stdout.write(text);
  // Kept after the report is out: a store that fails costs the copy, never the report.
  if (store) {
    try {
      await keepReports(store, reports);
    } finally {
      await store.close();
    }
  }
  return exitStatus(reports, failOn, flags.allowIncomplete === true);
}
