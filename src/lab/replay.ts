/**
 * A throwaway lab of Redis-protocol servers on loopback, for `redscope demo` and for tests that
 * need servers Debian cannot give (old versions, busy, max clients, non-Redis).
 *
 * Replay servers answer with the exact bytes real servers sent to the same commands (the
 * recorded fixtures in data/replies/). This is not the honeypot: it knows only the commands the
 * scanner sends, plus a generic unknown-command reply.
 */

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { RequestDecoder } from "../resp/index.js";
import { installedData } from "../store/paths.js";

export interface ReplyFixture {
  server: string;
  version: string;
  config: string;
  probes: Array<{ probe: string; reply_b64: string; closed_by_server: boolean }>;
}

export type LabServerKind =
  | { kind: "replay"; fixture: string }
  | { kind: "on-accept"; reply: string; close: boolean }
  | { kind: "every-command"; reply: string }
  | { kind: "http" }
  | { kind: "silent" };

export interface LabServer {
  name: string;
  host: string;
  port: number;
  spec: LabServerKind;
  close(): Promise<void>;
}

/** data/replies: the recorded answers of real servers the lab replays. */
export const repliesDir = (): string => installedData("replies");

export function loadFixture(name: string): ReplyFixture {
  const file = path.join(repliesDir(), name.endsWith(".json") ? name : `${name}.json`);
  return JSON.parse(fs.readFileSync(file, "utf8")) as ReplyFixture;
}

export function listFixtures(): string[] {
  return fs
    .readdirSync(repliesDir())
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Per connection: most bytes buffered before the lab server hangs up (it is a lab, not a sink). */
const MAX_CONN_BYTES = 1024 * 1024;

function replayHandler(fx: ReplyFixture): (sock: net.Socket) => void {
  const reply = new Map<string, Buffer>();
  for (const p of fx.probes) reply.set(p.probe, Buffer.from(p.reply_b64, "base64"));
  const get = (probe: string): Buffer => reply.get(probe) ?? Buffer.alloc(0);
  const protectedMode = fx.config === "protected";
  return (sock) => {
    if (protectedMode) {
      // Protected mode answers on accept, whatever the client sends, then closes.
      sock.end(get("ping"));
      return;
    }
    const decoder = new RequestDecoder();
    let resp3 = false;
    let seen = 0;
    sock.on("data", (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > MAX_CONN_BYTES) return sock.destroy();
      let cmds: ReturnType<RequestDecoder["push"]>;
      try {
        cmds = decoder.push(chunk);
      } catch {
        return sock.destroy();
      }
      for (const c of cmds) {
        const name = (c.args[0]?.toString("latin1") ?? "").toUpperCase();
        const arg1 = c.args[1]?.toString("latin1").toLowerCase();
        switch (name) {
          case "PING":
            sock.write(get("ping"));
            break;
          case "INFO": {
            const r = get(arg1 === "server" ? "info_server" : "info");
            sock.write(resp3 ? bulkToVerbatim(r) : r);
            break;
          }
          case "HELLO": {
            const r = get("hello3");
            if (r[0] === 0x25 /* % map */) resp3 = true;
            sock.write(r);
            break;
          }
          case "AUTH":
            sock.write(get("auth_wrong"));
            break;
          case "QUIT":
            sock.end(get("quit"));
            return;
          default:
            sock.write(unknownCommand(get("unknown_cmd"), name));
        }
      }
    });
    sock.on("error", () => sock.destroy());
  };
}

/** INFO after HELLO 3 comes as a RESP3 verbatim string: `=<len+4>\r\ntxt:<text>\r\n`. */
function bulkToVerbatim(bulk: Buffer): Buffer {
  if (bulk[0] !== 0x24 /* $ */) return bulk;
  const nl = bulk.indexOf("\r\n");
  const body = bulk.subarray(nl + 2, bulk.length - 2);
  return Buffer.concat([Buffer.from(`=${body.length + 4}\r\ntxt:`), body, Buffer.from("\r\n")]);
}

/** The recorded reply to `FOOBAR a "b c"`, with the command name put in (era wording kept). */
function unknownCommand(template: Buffer, name: string): Buffer {
  const t = template.toString("latin1");
  const safeName = name.replace(/[^\x21-\x7e]/g, "?").slice(0, 64);
  const line = t
    .replace("FOOBAR", safeName)
    .replace(/, with args beginning with: .*\r\n$/, ", with args beginning with: \r\n");
  return Buffer.from(line, "latin1");
}

function handlerFor(spec: LabServerKind): (sock: net.Socket) => void {
  switch (spec.kind) {
    case "replay":
      return replayHandler(loadFixture(spec.fixture));
    case "on-accept":
      return (sock) => {
        sock.on("error", () => sock.destroy());
        if (spec.close) sock.end(spec.reply);
        else sock.write(spec.reply);
      };
    case "every-command":
      return (sock) => {
        const decoder = new RequestDecoder();
        sock.on("error", () => sock.destroy());
        sock.on("data", (chunk: Buffer) => {
          try {
            for (const c of decoder.push(chunk)) {
              const name = c.args[0]?.toString("latin1").toUpperCase();
              if (name === "QUIT") return sock.end("+OK\r\n");
              sock.write(spec.reply);
            }
          } catch {
            sock.destroy();
          }
        });
      };
    case "http":
      return (sock) => {
        sock.on("error", () => sock.destroy());
        sock.once("data", () =>
          sock.end(
            "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
          ),
        );
      };
    case "silent":
      return (sock) => {
        sock.on("error", () => sock.destroy());
        sock.resume();
      };
  }
}

export async function startLabServer(
  name: string,
  spec: LabServerKind,
  host: string,
  port: number,
): Promise<LabServer> {
  const sockets = new Set<net.Socket>();
  const handler = handlerFor(spec);
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    handler(sock);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, exclusive: true }, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  return {
    name,
    host,
    port: addr.port,
    spec,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The demo's cast: one of each situation the taxonomy distinguishes. */
export const DEMO_CAST: Array<{ name: string; spec: LabServerKind }> = [
  { name: "redis 7.4.1, open", spec: { kind: "replay", fixture: "redis-7.4.1-open" } },
  {
    name: "redis 7.4.1, requirepass",
    spec: { kind: "replay", fixture: "redis-7.4.1-requirepass" },
  },
  {
    name: "redis 7.0.15, protected mode",
    spec: { kind: "replay", fixture: "redis-7.0.15-protected" },
  },
  {
    name: "redis 6.2.16, requirepass",
    spec: { kind: "replay", fixture: "redis-6.2.16-requirepass" },
  },
  { name: "redis 5.0.8, open", spec: { kind: "replay", fixture: "redis-5.0.8-open" } },
  {
    name: "redis 5.0.8, protected mode",
    spec: { kind: "replay", fixture: "redis-5.0.8-protected" },
  },
  {
    name: "redis 3.2.12, requirepass",
    spec: { kind: "replay", fixture: "redis-3.2.12-requirepass" },
  },
  { name: "redis 2.8.24, no auth", spec: { kind: "replay", fixture: "redis-2.8.24-default" } },
  {
    name: "loading dataset",
    spec: { kind: "every-command", reply: "-LOADING Redis is loading the dataset in memory\r\n" },
  },
  {
    name: "max clients reached",
    spec: { kind: "on-accept", reply: "-ERR max number of clients reached\r\n", close: true },
  },
  { name: "an HTTP server", spec: { kind: "http" } },
  { name: "accepts, says nothing", spec: { kind: "silent" } },
];
