/**
 * The Lua VM scripts run in: PUC Lua 5.4 compiled to WebAssembly (wasmoon), used through its
 * raw C API so that strings stay bytes and every call is synchronous. Each run gets a fresh
 * lua_State and closes it: nothing a script does outlives it.
 *
 * Bounded and without host access:
 * - memory: the state's allocator refuses past MAX_MEMORY (a script gets Lua's "not enough
 *   memory" error; the WebAssembly memory, shared by all runs, is never asked for more);
 * - steps: a count hook raises a fatal error after MAX_STEPS VM instructions (the caller maps
 *   it to what a client of a busy server sees);
 * - only the libraries Redis loads (base, table, string, math, coroutine; debug for the
 *   prelude's error handler, never visible to scripts) are opened; io, os, package, require,
 *   loadfile are never loaded, `load` only takes source text (no bytecode), `print` writes
 *   nothing, dofile reads no file;
 * - Lua 5.1 as Redis has it is the prelude's (lua-prelude.ts) and lua51.ts's work: globals,
 *   libraries (struct, cmsgpack, cjson, bit), 5.1's lexer and texts.
 *
 * Host functions are registered once (WebAssembly table slots are not freed) and find the run
 * they belong to through `current`.
 */
import { LuaFactory } from "wasmoon";

/** Allocated bytes one run's state may hold. */
export const MAX_MEMORY = 16 * 1024 * 1024;
/** VM instructions one run may execute (a few hundred ms of the slowest scripts). */
export const MAX_STEPS = 20_000_000;
/** How often (in instructions) the step hook runs. */
const HOOK_EVERY = 10_000;

export const LUA_TNIL = 0;
export const LUA_TBOOLEAN = 1;
export const LUA_TLIGHTUSERDATA = 2;
export const LUA_TNUMBER = 3;
export const LUA_TSTRING = 4;
export const LUA_TTABLE = 5;
export const LUA_TFUNCTION = 6;
export const LUA_REGISTRYINDEX = -1001000;
export const LUA_RIDX_GLOBALS = 2;
const LUA_MASKCOUNT = 8;

const wasm = await new LuaFactory().getLuaModule();
const m = wasm.module as unknown as WasmModule;

/**
 * Lua 5.1 prints a float as "%.14g" alone; 5.4's tostringbuff adds ".0" when that looks like an
 * integer (`"x" .. 10/2` is "x5.0" in 5.4, "x5" in Redis). It decides with
 * strspn(buff, "-0123456789"): emptying that set (its one copy in the module's static data)
 * makes it never add the suffix, for tostring, concatenation and every coercion alike.
 */
function printFloatsAs51(): void {
  const needle = Buffer.from("\0-0123456789\0", "latin1");
  const heap = Buffer.from(m.HEAPU8.buffer, m.HEAPU8.byteOffset, m.HEAPU8.byteLength);
  const at = heap.indexOf(needle);
  if (at < 0 || heap.indexOf(needle, at + 1) >= 0) throw new Error("lua: float format not found");
  heap[at + 1] = 0;
}
printFloatsAs51();

interface WasmModule {
  _realloc(p: number, n: number): number;
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  HEAPF64: Float64Array;
  _malloc(n: number): number;
  _free(p: number): void;
  addFunction(fn: (...a: number[]) => number | undefined, sig: string): number;
  _luaL_loadbufferx: CFn;
  _luaL_where: CFn;
  _lua_absindex: CFn;
  _lua_callk: CFn;
  _lua_rotate: CFn;
  _lua_checkstack: CFn;
  _lua_concat: CFn;
  _lua_createtable: CFn;
  _lua_newstate: CFn;
  _lua_newuserdatauv: CFn;
  _lua_setmetatable: CFn;
  _lua_close: CFn;
  _lua_dump: CFn;
  _lua_error: CFn;
  _lua_getfield: CFn;
  _lua_getglobal: CFn;
  _lua_gettop: CFn;
  _lua_isinteger: CFn;
  _lua_next: CFn;
  _lua_pcallk: CFn;
  _lua_pushboolean: CFn;
  _lua_pushcclosure: CFn;
  _lua_pushinteger: CFn;
  _lua_pushlightuserdata: CFn;
  _lua_pushlstring: CFn;
  _lua_pushnil: CFn;
  _lua_pushnumber: CFn;
  _lua_pushvalue: CFn;
  _lua_rawget: CFn;
  _lua_rawgeti: CFn;
  _lua_rawset: CFn;
  _lua_rawseti: CFn;
  _lua_setfield: CFn;
  _lua_setglobal: CFn;
  _lua_sethook: CFn;
  _lua_settop: CFn;
  _lua_setupvalue: CFn;
  _lua_toboolean: CFn;
  _lua_tolstring: CFn;
  _lua_tonumberx: CFn;
  _lua_type: CFn;
  _luaopen_base: CFn;
  _luaopen_coroutine: CFn;
  _luaopen_debug: CFn;
  _luaopen_math: CFn;
  _luaopen_string: CFn;
  _luaopen_table: CFn;
}

/** A C function of the Lua API as the WebAssembly module exports it (pointers are numbers). */
type CFn = (...a: number[]) => number;

/** A C string kept for the process's life (names of fields and globals). */
const names = new Map<string, number>();
function cstr(s: string): number {
  let p = names.get(s);
  if (p === undefined) {
    const b = Buffer.from(`${s}\0`, "latin1");
    p = m._malloc(b.length);
    m.HEAPU8.set(b, p);
    names.set(s, p);
  }
  return p;
}

const lenPtr = m._malloc(8);

/** Thrown (as a Lua error) when a run uses up its steps. */
export const STEPS_EXCEEDED = "\0steps";

/** A running state: the raw stack operations the scripting layer needs. */
export class LuaState {
  /** The thread running now (the main one, or a coroutine calling a host function). */
  L: number;
  steps = 0;
  stepsExceeded = false;
  /** Bytes the state's allocator holds now. */
  memoryUsed = 0;
  private readonly main: number;

  constructor() {
    const outer = allocating;
    allocating = this;
    try {
      this.main = m._lua_newstate(allocFn, 0);
    } finally {
      allocating = outer;
    }
    if (this.main === 0) throw new Error("lua_newstate failed");
    this.L = this.main;
  }

  close(): void {
    const outer = allocating;
    allocating = this;
    try {
      m._lua_close(this.main);
    } finally {
      allocating = outer;
    }
  }

  top(): number {
    return m._lua_gettop(this.L);
  }
  setTop(n: number): void {
    m._lua_settop(this.L, n);
  }
  pop(n = 1): void {
    m._lua_settop(this.L, -n - 1);
  }
  type(i: number): number {
    return m._lua_type(this.L, i);
  }
  pushNil(): void {
    m._lua_pushnil(this.L);
  }
  pushBoolean(b: boolean): void {
    m._lua_pushboolean(this.L, b ? 1 : 0);
  }
  pushNumber(n: number): void {
    m._lua_pushnumber(this.L, n);
  }
  pushInteger(n: number): void {
    // lua_pushinteger takes a 64-bit integer: passed as a BigInt by the WebAssembly ABI.
    (m._lua_pushinteger as unknown as (L: number, n: bigint) => void)(this.L, BigInt(n));
  }
  pushBytes(b: Uint8Array): void {
    const p = m._malloc(b.length + 1);
    m.HEAPU8.set(b, p);
    m._lua_pushlstring(this.L, p, b.length);
    m._free(p);
  }
  pushString(s: string): void {
    this.pushBytes(Buffer.from(s, "latin1"));
  }
  pushValue(i: number): void {
    m._lua_pushvalue(this.L, i);
  }
  pushFunction(fn: number): void {
    m._lua_pushcclosure(this.L, fn, 0);
  }
  /** A C closure of `fn` over the top `n` values (popped). */
  pushClosure(fn: number, n: number): void {
    m._lua_pushcclosure(this.L, fn, n);
  }
  /** Move the top value to index i, shifting the ones above up. */
  insert(i: number): void {
    m._lua_rotate(this.L, i, 1);
  }
  /** lua_call: errors propagate to the enclosing protected call. */
  call(nargs: number, nresults: number): void {
    m._lua_callk(this.L, nargs, nresults, 0, 0);
  }
  newTable(narr = 0, nrec = 0): void {
    m._lua_createtable(this.L, narr, nrec);
  }
  /** t[k] = top (pops the value), t at index i. */
  setField(i: number, k: string): void {
    m._lua_setfield(this.L, i, cstr(k));
  }
  getField(i: number, k: string): number {
    return m._lua_getfield(this.L, i, cstr(k));
  }
  rawGetField(i: number, k: string): number {
    const abs = m._lua_absindex(this.L, i);
    this.pushString(k);
    return m._lua_rawget(this.L, abs);
  }
  rawGetI(i: number, n: number): number {
    return (m._lua_rawgeti as unknown as (L: number, i: number, n: bigint) => number)(
      this.L,
      i,
      BigInt(n),
    );
  }
  rawSetI(i: number, n: number): void {
    (m._lua_rawseti as unknown as (L: number, i: number, n: bigint) => void)(this.L, i, BigInt(n));
  }
  /** t[k] = v with k, v on top (popped), t at index i. */
  rawSet(i: number): void {
    m._lua_rawset(this.L, i);
  }
  /** A new empty full userdata (newproxy's), with a new empty metatable if asked. */
  pushUserdata(withMetatable: boolean): void {
    m._lua_newuserdatauv(this.L, 0, 0);
    if (withMetatable) {
      m._lua_createtable(this.L, 0, 0);
      m._lua_setmetatable(this.L, -2);
    }
  }
  /** cjson.null: a light userdata NULL. */
  pushLightNull(): void {
    m._lua_pushlightuserdata(this.L, 0);
  }
  /** Set upvalue n of the function at i to the value on top (popped). */
  setUpvalue(i: number, n: number): void {
    m._lua_setupvalue(this.L, i, n);
  }
  setGlobal(name: string): void {
    m._lua_setglobal(this.L, cstr(name));
  }
  getGlobal(name: string): number {
    return m._lua_getglobal(this.L, cstr(name));
  }
  next(i: number): boolean {
    return m._lua_next(this.L, i) !== 0;
  }
  absIndex(i: number): number {
    return m._lua_absindex(this.L, i);
  }
  toBoolean(i: number): boolean {
    return m._lua_toboolean(this.L, i) !== 0;
  }
  isInteger(i: number): boolean {
    return m._lua_isinteger(this.L, i) !== 0;
  }
  toNumber(i: number): number {
    return m._lua_tonumberx(this.L, i, 0);
  }
  /** The value's bytes if it is a string or a number (converted in place, as lua_tolstring). */
  toBytes(i: number): Buffer | undefined {
    const p = m._lua_tolstring(this.L, i, lenPtr);
    if (p === 0) return undefined;
    const n = m.HEAPU32[lenPtr >> 2]!;
    return Buffer.from(m.HEAPU8.subarray(p, p + n));
  }
  checkStack(n: number): boolean {
    return m._lua_checkstack(this.L, n) !== 0;
  }
  /** Raise the value on top as a Lua error (never returns to the caller's Lua code). */
  error(): number {
    return m._lua_error(this.L);
  }
  /** luaPushError's position before 7.0: `<source>: <line>: ` of the calling Lua code. */
  where(): string {
    m._luaL_where(this.L, 1);
    const at = this.toBytes(-1)?.toString("latin1") ?? "";
    this.pop();
    const parts = /^(.*):(\d+): $/.exec(at);
    return parts === null ? "" : `@${parts[1]}: ${parts[2]}: `;
  }
  /** Raise `message` prefixed with the caller's position (luaL_error at level 1). */
  errorAt(message: string): number {
    m._luaL_where(this.L, 1);
    this.pushString(message);
    m._lua_concat(this.L, 2);
    return m._lua_error(this.L);
  }

  /** Compile source text (never bytecode) as a chunk named `name`; 0 when it compiled. */
  load(source: Buffer, name: string): number {
    const p = m._malloc(source.length + 1);
    m.HEAPU8.set(source, p);
    const rc = m._luaL_loadbufferx(this.L, p, source.length, cstr(name), cstr("t"));
    m._free(p);
    return rc;
  }

  /** lua_pcall with the step hook armed; returns Lua's status (0: ok). */
  pcall(nargs: number, nresults: number, handler: number): number {
    m._lua_sethook(this.L, hookFn, LUA_MASKCOUNT, HOOK_EVERY);
    return m._lua_pcallk(this.L, nargs, nresults, handler, 0, 0);
  }

  /** Open the libraries Redis's Lua has (the others are never opened). */
  openLibs(): void {
    m._luaopen_base(this.L);
    this.pop();
    for (const lib of ["table", "string", "math", "coroutine", "debug"] as const) {
      m[`_luaopen_${lib}`](this.L);
      this.setGlobal(lib);
    }
  }
}

/** The run whose host functions are being called (one at a time: the honeypot is synchronous). */
let current: LuaState | undefined;
/** The state whose allocator is being called (its creation, its run, its close). */
let allocating: LuaState | undefined;

export function withState<T>(fn: (state: LuaState) => T): T {
  const state = new LuaState();
  const outer = current;
  const outerAlloc = allocating;
  current = state;
  allocating = state;
  try {
    return fn(state);
  } finally {
    current = outer;
    allocating = outerAlloc;
    state.close();
  }
}

/** lua_Alloc: realloc with the run's cap (Lua raises "not enough memory" when refused). */
const allocFn = m.addFunction((_ud: number, ptr: number, osize: number, nsize: number) => {
  const s = allocating;
  const old = ptr === 0 ? 0 : osize;
  if (nsize === 0) {
    if (ptr !== 0) {
      m._free(ptr);
      if (s !== undefined) s.memoryUsed -= old;
    }
    return 0;
  }
  if (s !== undefined && nsize > old && s.memoryUsed + nsize - old > MAX_MEMORY) return 0;
  const p = m._realloc(ptr, nsize);
  if (p !== 0 && s !== undefined) s.memoryUsed += nsize - old;
  return p;
}, "iiiii");

/** Chunks compiled once (trusted code: the prelude), kept as Lua bytecode. */
const compiled = new Map<string, Buffer>();

/** lua_Writer collecting a dump. */
let dumpParts: Buffer[] = [];
const writerFn = m.addFunction((_L: number, p: number, sz: number) => {
  dumpParts.push(Buffer.from(m.HEAPU8.subarray(p, p + sz)));
  return 0;
}, "iiiii");

/**
 * Load trusted source (never a visitor's) as `name`, compiled once and then loaded as bytecode
 * (parsing the prelude on every run would cost more than running most scripts).
 */
export function loadTrusted(state: LuaState, source: string, name: string): number {
  let code = compiled.get(name);
  if (code === undefined) {
    const rc = state.load(Buffer.from(source, "latin1"), name);
    if (rc !== 0) return rc;
    dumpParts = [];
    m._lua_dump(state.L, writerFn, 0, 1);
    code = Buffer.concat(dumpParts);
    dumpParts = [];
    compiled.set(name, code);
    return 0;
  }
  const p = m._malloc(code.length);
  m.HEAPU8.set(code, p);
  const rc = m._luaL_loadbufferx(state.L, p, code.length, cstr(name), cstr("b"));
  m._free(p);
  return rc;
}

const hookFn = m.addFunction(() => {
  const s = current;
  if (s === undefined) return undefined;
  s.steps += HOOK_EVERY;
  if (s.steps > MAX_STEPS) {
    s.stepsExceeded = true;
    // Re-armed on every hook call so that a pcall in the script cannot swallow it for long.
    s.pushString(STEPS_EXCEEDED);
    s.error();
  }
  return undefined;
}, "vii");

/**
 * A host function Lua can call: `fn` reads its arguments from the stack of the running state
 * and returns how many results it pushed (or raises with state.error()).
 */
export function hostFunction(fn: (state: LuaState) => number): number {
  return m.addFunction((L: number) => {
    const s = current;
    if (s === undefined) return 0;
    const main = s.L;
    s.L = L;
    try {
      return fn(s);
    } finally {
      s.L = main;
    }
  }, "ii");
}
