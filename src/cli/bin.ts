#!/usr/bin/env node
import { main } from "./main.js";

// `redscope scan -o - | head`: the reader left; stop quietly, as command-line tools do.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
