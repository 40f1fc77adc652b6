/** classify/hints.ts: what error wordings and HELLO say about a server's version and fork. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyExchange, errorKind, versionHint } from "../src/classify/index.js";
import { DENIED_72, empty, err, fromReplies } from "./helpers/classify.js";

describe("version hints and fork wordings", () => {
  const hint = (...lines: string[]) => classifyExchange(fromReplies(lines.map(err)));

  it("≤ 2.6: operation not permitted + old unknown command", () => {
    const c = hint(
      "ERR operation not permitted",
      "ERR unknown command 'HELLO'",
      "ERR operation not permitted",
    );
    assert.equal(c.server?.version_hint, "<=2.6");
  });

  it("Valkey 8 DENIED: product valkey, hint in Valkey versions", () => {
    const c = hint(
      "DENIED Running in protected mode because protected mode is enabled and no password is set for the default user.",
    );
    assert.equal(c.state, "protected");
    assert.deepEqual(c.server, { product: "valkey", version_hint: ">=8.0" });
  });

  it("KeyDB DENIED: product keydb, no Redis-era hint", () => {
    const c = hint(
      "DENIED KeyDB is running in protected mode because protected mode is enabled, no bind address was specified, no authentication password is requested to clients.",
    );
    assert.equal(c.state, "protected");
    assert.deepEqual(c.server, { product: "keydb" });
  });

  it("Valkey LOADING and BUSY name the product", () => {
    const l = hint("LOADING Valkey is loading the dataset in memory");
    assert.equal(l.state, "busy");
    assert.equal(l.server?.product, "valkey");
    const b = hint(
      "BUSY Valkey is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    );
    assert.equal(b.server?.product, "valkey");
    assert.equal(hint("LOADING KeyDB is loading the dataset in memory").server?.product, "keydb");
  });

  it("MASTERDOWN wording dates the server", () => {
    assert.equal(
      hint("MASTERDOWN Link with MASTER is down and slave-serve-stale-data is set to 'no'.").server
        ?.version_hint,
      "2.6-4.0",
    );
    assert.equal(
      hint("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
        .server?.version_hint,
      ">=5.0",
    );
  });

  it("BUSY function / module wording is 7.0+", () => {
    assert.equal(
      hint(
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
      ).server?.version_hint,
      ">=7.0",
    );
  });

  it("max clients in cluster mode is 6.0.6+", () => {
    assert.equal(
      hint("ERR max number of clients + cluster connections reached").server?.version_hint,
      ">=6.0.6",
    );
  });

  it("NOPERM wordings", () => {
    assert.equal(
      hint("NOPERM this user has no permissions to run the 'info' command or its subcommand").server
        ?.version_hint,
      "6.0-6.2",
    );
    assert.equal(
      hint("NOPERM this user has no permissions to run the 'info' command").server?.version_hint,
      "7.0",
    );
    assert.equal(
      hint("NOPERM User default has no permissions to run the 'info' command").server?.version_hint,
      ">=7.2",
    );
  });

  it("contradictory evidence keeps the narrowest single hint", () => {
    // <=2.6 and >=7.2 cannot both hold; the closed range wins over open-ended ones.
    const c = hint(
      "ERR operation not permitted",
      "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option",
      "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option",
    );
    assert.equal(c.server?.version_hint, "6.0-7.0");
  });

  it("versionHint() is usable on its own", () => {
    assert.equal(versionHint(fromReplies([err(DENIED_72)])), ">=7.0");
    assert.equal(versionHint(empty()), undefined);
  });

  it("error kinds are decided on the code", () => {
    assert.equal(errorKind("NOAUTH anything at all"), "NOAUTH");
    assert.equal(errorKind("DENIED Whatever a fork says"), "DENIED");
    assert.equal(errorKind("LOADING Foo is loading"), "LOADING");
    assert.equal(errorKind("WRONGPASS invalid username-password pair"), "WRONGPASS");
    assert.equal(errorKind("ERR invalid password"), "WRONGPASS");
    assert.equal(errorKind("\x1b[31mred"), "ERR");
    assert.equal(errorKind("lowercase code"), "ERR");
  });
});

// ---------- hostile input ----------
