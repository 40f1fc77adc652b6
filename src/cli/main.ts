/** The `redscope` command: subcommands, one-line errors, exit status 2 on bad input. */
import { Command, CommanderError } from "commander";
import { StoreDamagedError } from "../store/index.js";
import { TargetSpecError } from "../targets/index.js";
import { ConfigError } from "../usecases/errors.js";
import { registerAudit } from "./audit.js";
import { registerDemo } from "./demo.js";
import { fail, UsageError } from "./errors.js";
import { registerHoneypot } from "./honeypot.js";
import { registerImport } from "./import.js";
import { registerIntelCommand } from "./intel.js";
import { registerReport } from "./report.js";
import { registerScan } from "./scan.js";
import { registerServe } from "./serve.js";
import { VERSION } from "./version.js";

/** nmap's output forms after one dash and `-o` (`-oN`, `-oG`, `-oX`, `-oA`, `-oS`). */
const NMAP_OUTPUT = /^-o[A-Z]$/;

/**
 * nmap's two-letter flags are two letters after one dash, which no option parser takes as a
 * short flag: left alone, `-oJ x.json` would read as `-o J` and a target `x.json`. `-iL` reads
 * targets from a file; `-oJ` writes JSONL, as `-o` does; nmap's other output forms are refused
 * with a hint.
 */
export function normaliseArgv(argv: string[]): string[] {
  return argv.map((a) => {
    if (a === "-iL") return "--input-list";
    if (a === "-oJ") return "--output";
    if (NMAP_OUTPUT.test(a)) {
      fail(
        `${a}: nmap's output forms are not written; use -o FILE or -oJ FILE (JSONL), and redscope report -f csv|json|md|html for tables`,
      );
    }
    return a;
  });
}

function program(): Command {
  const p = new Command("redscope")
    .description("Measure and reduce the internet exposure of Redis-protocol servers")
    .version(VERSION)
    // `redscope --version` before a command; after one, an option is the command's own
    // (`report --hosts --version '<6'`).
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // Commander's errors become our one-line form (printed in main()).
      writeErr: (s) => {
        if (!s.startsWith("error:")) process.stderr.write(s);
      },
    });
  registerScan(p);
  registerDemo(p);
  registerImport(p);
  registerIntelCommand(p);
  registerReport(p);
  registerHoneypot(p);
  registerAudit(p);
  registerServe(p);
  for (const c of p.commands) c.exitOverride().configureOutput(p.configureOutput());
  return p;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = normaliseArgv(argv);
    await program().parseAsync(args, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      process.stderr.write(`redscope: ${e.message.replace(/^error: /, "")}\n`);
      return 2;
    }
    if (
      e instanceof UsageError ||
      e instanceof TargetSpecError ||
      e instanceof ConfigError ||
      // Whichever command met it (it opens, reads or writes the store): the user's to check.
      e instanceof StoreDamagedError
    ) {
      process.stderr.write(`redscope: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`redscope: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
    return 1;
  }
}
