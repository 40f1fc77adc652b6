/**
 * The Lua side of Redis's scripting environment, run in every fresh state before the script
 * (lua.ts runs it, scripting.ts gives it its host functions): Lua 5.1's library as Redis's
 * scripts see it on top of Lua 5.4 (_VERSION, 5.1's number formatting in tostring, unpack,
 * loadstring, math.pow, table.getn, getfenv …, no debug, nothing of 5.4's), the globals of the
 * version (print, dofile, os.clock, `server`), Redis's deterministic math.random
 * (redisLrand48), the bit library, struct (lua_struct.c) and cmsgpack (lua_cmsgpack.c),
 * cjson.encode, the redis table, the error handler of eval.c, and the globals protection of
 * the version (7.0+: read-only tables behind proxies; before: enable_strict_lua's metatable).
 * What stays 5.4's: the order pairs() and the encoders walk a table's keys in, "?" for a
 * library function called through pcall, collectgarbage's figures.
 *
 * Arguments: the host functions table and the version's features (F): v7 (7.0's error
 * texts), readonly (read-only library tables: 6.2.7+), strict (enable_strict_lua's metatable
 * before 6.2.7), resp3 (redis.setresp and RESP3 conversions: 6.0+), handlerLine (where the
 * pre-7.0 error handler fails on a table), vulnerable (`package`, CVE-2022-0543), version,
 * versionNum, seed (redisLrand48's state), osClock (7.4+).
 */
export const PRELUDE = String.raw`
local H, F = ...
local vulnerable, version, versionNum, seed, osClock = F.vulnerable, F.version, F.versionNum, F.seed, F.osClock
local G = _G
local type, tostring0, error, rawget, rawset0, setmetatable0, getmetatable, next, select =
  type, tostring, error, rawget, rawset, setmetatable, getmetatable, next, select
local fmt, mtype, floor, tointeger = string.format, math.type, math.floor, math.tointeger
local fmt_, mininteger = string.format, math.mininteger
local dbg_getinfo, dbg_setupvalue = debug.getinfo, debug.setupvalue
local gsub, byte, char, concat = string.gsub, string.byte, string.char, table.concat
local unpack0, spack, sunpack, rawlen0 = table.unpack, string.pack, string.unpack, rawlen
local log0 = math.log

-- Lua 5.1's lua_Number is a double printed with "%.14g" (integers too: 1e14 prints 1e+14).
local function num2str(n)
  return (fmt("%.14g", n))
end
local function toint(v)
  local n = tonumber(v)
  if n == nil then error("bad argument (number expected)", 3) end
  if n ~= n or n == math.huge or n == -math.huge then return 0 end
  n = n >= 0 and floor(n) or -floor(-n)
  return tointeger(n) or 0
end

-- Library functions that stand for Redis's C ones run behind a C closure (H.wrap), so a
-- script's tail call keeps its own frame; raise() errs as luaL_error does: at the caller's
-- line when the caller is the script.
local wrapped = setmetatable0({}, { __mode = "k" })
local function cfunction(f)
  local w = H.wrap(f)
  wrapped[w] = true
  return w
end
local function raise(msg)
  for level = 3, 200 do
    local i = dbg_getinfo(level, "Slf")
    if i == nil or (i.what == "C" and not wrapped[i.func]) then break end
    if byte(i.source, 1) == 64 then error(i.source:sub(2) .. ":" .. i.currentline .. ": " .. msg, 0) end
  end
  error(msg, 0)
end
-- Lua 5.4's runtime error texts in Lua 5.1's words ("attempt to index local 't' (a nil value)").
local function as51(msg)
  msg = gsub(msg, "attempt to (%w[%w ]-) a (%w+) value %((%w+) '([^']*)'%)",
    function(what, ty, kind, name)
      if kind == "constant" then return "attempt to " .. what .. " a " .. ty .. " value" end
      return "attempt to " .. what .. " " .. kind .. " '" .. name .. "' (a " .. ty .. " value)"
    end)
  msg = gsub(msg, "bad 'for' (%a[%a ]-) %(number expected, got %a+%)", "'for' %1 must be a number")
  return msg
end

-- The step bound's error ("\0steps", raised by the hook) goes through every protected call:
-- a script cannot catch it and loop on.
local STEPS = "\0steps"
local pcall0, xpcall0, resume0, wrap0, create0 = pcall, xpcall, coroutine.resume,
  coroutine.wrap, coroutine.create
-- A caught error's text is 5.1's too.
local function rethrow(ok, ...)
  if not ok then
    local e = ...
    if e == STEPS then error(STEPS, 0) end
    if type(e) == "string" then return ok, as51(e), select(2, ...) end
  end
  return ok, ...
end
pcall = function(...) return rethrow(pcall0(...)) end
xpcall = function(f, h, ...)
  return rethrow(xpcall0(f, function(e)
    if e == STEPS then return e end
    if type(e) == "string" then e = as51(e) end
    return h(e)
  end, ...))
end
coroutine.resume = function(...) return rethrow(resume0(...)) end
coroutine.wrap = function(f)
  local co = create0(f)
  return function(...)
    local function pass(ok, ...)
      if not ok then error((...), 0) end
      return ...
    end
    return pass(rethrow(resume0(co, ...)))
  end
end

-- An object's address as a 64-bit Redis prints it (%p of its heap: glibc's for a source
-- build, jemalloc's for a package), not the WebAssembly memory's small offsets.
local heapBase = F.heapBase
local function withAddress(text)
  local kind, hex = text:match("^(%a+): 0x(%x+)$")
  if kind == nil then
    kind = text:match("^(%a+): 0$")
    if kind ~= nil then return kind .. ": (nil)" end
    return text
  end
  local at = tonumber(hex, 16)
  -- A C function prints its table slot: placed among the heap's closures.
  if at < 0x10000 then at = 0x2d000 + at * 0x28 end
  return fmt("%s: 0x%x", kind, heapBase + at * 2)
end
tostring = function(v)
  if type(v) == "number" then return num2str(v) end
  return withAddress(tostring0(v))
end
-- Globals as the version's Lua has them: print until 7.0, dofile until 3.2 (the host's
-- answers "cannot open": no file is ever read), never loadfile (and nothing of 5.4's).
_VERSION = "Lua 5.1"
if F.print then print = function() end else print = nil end
dofile = F.dofile and H.dofile or nil
loadfile, warn, require, utf8 = nil, nil, nil, nil
local load0 = load
local envProxy
-- 5.1's loadstring compiles 5.1 (lua51.ts's rules, on the host); its load takes a reader
-- function only.
local function compiled(f, msg)
  if f == nil and type(msg) == "string" then return nil, H.as51Message(msg) end
  return f, msg
end
loadstring = function(chunk, name)
  if type(chunk) == "string" then
    return compiled(load0(H.as51Source(chunk), name or chunk, "t", envProxy))
  end
  return compiled(load0(chunk, name, "t", envProxy))
end
load = cfunction(function(chunk, name)
  if type(chunk) ~= "function" then
    raise("bad argument #1 to 'load' (function expected, got " .. (chunk == nil and "no value" or type(chunk)) .. ")")
  end
  local parts = {}
  while true do
    local piece = chunk()
    if piece == nil or piece == "" then break end
    if type(piece) ~= "string" then return nil, "reader function must return a string" end
    parts[#parts + 1] = piece
  end
  local text = concat(parts)
  return compiled(load0(H.as51Source(text), name or "=(load)", "t", envProxy))
end)
-- 5.1's checks where 5.4's functions take anything.
local ipairs0, max0, min0, running0 = ipairs, math.max, math.min, coroutine.running
ipairs = cfunction(function(...)
  local t = ...
  if type(t) ~= "table" then
    raise("bad argument #1 to 'ipairs' (table expected, got " .. (select("#", ...) == 0 and "no value" or type(t)) .. ")")
  end
  return ipairs0(t)
end)
for name, f in next, { max = max0, min = min0 } do
  math[name] = cfunction(function(...)
    if select("#", ...) == 0 then raise("bad argument #1 to '" .. name .. "' (number expected, got no value)") end
    return f(...)
  end)
end
coroutine.running = function()
  local co, main = running0()
  if main then return nil end
  return co
end
-- 5.1 converts strings for arithmetic in the VM and names the operand that is not a number.
do
  local smt = getmetatable("")
  local OPS = { __add = function(a, b) return a + b end, __sub = function(a, b) return a - b end,
    __mul = function(a, b) return a * b end, __div = function(a, b) return a / b end,
    __mod = function(a, b) return a % b end, __pow = function(a, b) return a ^ b end,
    __unm = function(a) return -a end }
  for name, op in next, OPS do
    smt[name] = function(a, b)
      local x, y = tonumber(a), tonumber(b)
      if x ~= nil and (y ~= nil or name == "__unm") then return op(x, y) end
      local bad = x == nil and a or b
      error("attempt to perform arithmetic on a " .. type(bad) .. " value", 2)
    end
  end
  smt.__idiv, smt.__band, smt.__bor, smt.__bxor, smt.__shl, smt.__shr, smt.__bnot =
    nil, nil, nil, nil, nil, nil, nil
end
-- error() of a number adds the position, as for a string.
local error0 = error
G.error = cfunction(function(msg, level)
  if type(msg) == "number" then msg = num2str(msg) end
  level = level == nil and 1 or tonumber(level) or 1
  if level > 0 then level = level + 2 end
  error0(msg, level)
end)
unpack = table.unpack
table.getn = function(t) return #t end
table.maxn = function(t)
  local m = 0
  for k in next, t do if type(k) == "number" and k > m then m = k end end
  return m
end
table.setn = function() error("'setn' is obsolete", 2) end
math.pow = function(a, b) return a ^ b end
-- 5.1's math.log has no base.
math.log = function(x) return log0(x) end
math.ldexp = function(m, e) return m * 2.0 ^ e end
math.log10 = function(x) return log0(x, 10) end
math.mod = math.fmod
math.cosh = function(x) return (math.exp(x) + math.exp(-x)) / 2 end
math.sinh = function(x) return (math.exp(x) - math.exp(-x)) / 2 end
math.tanh = function(x) local a, b = math.exp(x), math.exp(-x) return (a - b) / (a + b) end
math.frexp = function(x)
  if x == 0 or x ~= x or x == math.huge or x == -math.huge then return x, 0 end
  local e = floor(math.log(math.abs(x), 2)) + 1
  local m = x / 2.0 ^ e
  if math.abs(m) >= 1 then m, e = m / 2, e + 1 elseif math.abs(m) < 0.5 then m, e = m * 2, e - 1 end
  return m, e
end
string.gfind = string.gmatch
math.type, math.tointeger, math.ult, math.maxinteger, math.mininteger = nil, nil, nil, nil, nil
table.move, table.pack, string.pack, string.unpack, string.packsize = nil, nil, nil, nil, nil
coroutine.close, coroutine.isyieldable = nil, nil
table.unpack, rawlen = nil, nil
-- 5.1's string.format: its conversions only, %s of strings and numbers only, the integer
-- conversions' arguments as numbers cast to integers.
local format0 = string.format
local CONVERSIONS = { c = true, d = true, i = true, o = true, u = true, x = true, X = true,
  e = true, E = true, f = true, g = true, G = true, q = true, s = true }
string.format = cfunction(function(f, ...)
  local n = select("#", ...)
  if type(f) ~= "string" or not f:find("%", 1, true) then return format0(f, ...) end
  local args = { ... }
  local i = 0
  for flags, conv in f:gmatch("%%([-+ #0]*%d*%.?%d*)(.?)") do
    if conv ~= "%" then
      if not CONVERSIONS[conv] then raise("invalid option '%" .. conv .. "' to 'format'") end
      i = i + 1
      local a = args[i]
      if conv == "q" and type(a) == "number" then args[i] = num2str(a) end
      if conv == "s" and type(a) ~= "string" and type(a) ~= "number" then
        raise("bad argument #" .. (i + 1) .. " to 'format' (string expected, got " ..
          (i > n and "no value" or type(a)) .. ")")
      end
      if (conv == "d" or conv == "i" or conv == "o" or conv == "u" or conv == "x" or conv == "X"
          or conv == "c") and type(a) == "number" and a == a and a ~= math.huge and a ~= -math.huge then
        args[i] = a >= 0 and floor(a) or -floor(-a)
        args[i] = tointeger(args[i]) or args[i]
      end
    end
  end
  return format0(f, unpack0(args, 1, n))
end)

-- Redis's math.random: redisLrand48, whose state lives as long as the server (seed).
local X = seed
local function lrand48()
  X = (0x5DEECE66D * X + 0xB) & 0xFFFFFFFFFFFF
  return X >> 17
end
math.random = function(...)
  local r = (lrand48() % 0x7fffffff) / 0x7fffffff
  local n = select("#", ...)
  if n == 0 then return r end
  if n == 1 then
    local u = toint((...))
    if u < 1 then raise("bad argument #1 to 'random' (interval is empty)") end
    return floor(r * u) + 1
  end
  if n == 2 then
    local l, u = toint((...)), toint((select(2, ...)))
    if l > u then raise("bad argument #2 to 'random' (interval is empty)") end
    return floor(r * (u - l + 1)) + l
  end
  raise("wrong number of arguments")
end
math.random = cfunction(math.random)
math.randomseed = function(s) X = (((toint(s) & 0xffffffff) << 16) | 0x330E) & 0xFFFFFFFFFFFF end

-- LuaBitOp.
local function tobit(x)
  x = toint(x) & 0xffffffff
  if x >= 0x80000000 then x = x - 0x100000000 end
  return x
end
local bit = {}
bit.tobit = tobit
bit.bnot = function(x) return tobit(~tobit(x)) end
local function fold(f)
  return function(x, ...)
    local r = tobit(x)
    for i = 1, select("#", ...) do r = f(r, tobit((select(i, ...)))) end
    return tobit(r)
  end
end
bit.band = fold(function(a, b) return a & b end)
bit.bor = fold(function(a, b) return a | b end)
bit.bxor = fold(function(a, b) return a ~ b end)
bit.lshift = function(x, n) return tobit(tobit(x) << (toint(n) & 31)) end
bit.rshift = function(x, n) return tobit((tobit(x) & 0xffffffff) >> (toint(n) & 31)) end
bit.arshift = function(x, n) return tobit(tobit(x) >> (toint(n) & 31) | ((tobit(x) < 0 and (toint(n) & 31) > 0) and ~(0xffffffff >> (toint(n) & 31)) or 0)) end
bit.rol = function(x, n) x = tobit(x) & 0xffffffff n = toint(n) & 31 return tobit((x << n) | (x >> (32 - n))) end
bit.ror = function(x, n) x = tobit(x) & 0xffffffff n = toint(n) & 31 return tobit((x >> n) | (x << (32 - n))) end
bit.bswap = function(x)
  x = tobit(x) & 0xffffffff
  return tobit(((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >> 8) & 0xff00) | (x >> 24))
end
bit.tohex = function(x, n)
  n = n == nil and 8 or toint(n)
  local up = n < 0
  if up then n = -n end
  if n > 8 then n = 8 end
  local s = fmt(up and "%08X" or "%08x", tobit(x) & 0xffffffff)
  return s:sub(9 - n)
end
G.bit = bit
if osClock then G.os = { clock = H.clock } end
gcinfo = function() return floor(collectgarbage("count")) end

-- cjson (encode here, decode on the host).
local null = H.null
local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["/"] = "\\/", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function escape(s)
  return '"' .. gsub(s, '[%c"\\/\127]', function(c) return ESC[c] or fmt("\\u%04x", byte(c)) end) .. '"'
end
local function encode(v, depth)
  local t = type(v)
  if t == "string" then return escape(v) end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("Cannot serialise number: must not be NaN or Inf", 0)
    end
    return num2str(v)
  end
  if t == "boolean" then return v and "true" or "false" end
  if v == nil or v == null then return "null" end
  if t ~= "table" then error("Cannot serialise " .. t .. ": type not supported", 0) end
  if depth > 1000 then error("Cannot serialise, excessive nesting (1001)", 0) end
  local max, count, array = 0, 0, true
  for k in next, v do
    if type(k) == "number" and k > 0 and floor(k) == k then
      if k > max then max = k end
      count = count + 1
    else
      array = false
      break
    end
  end
  if array and max > 10 and max > count * 2 then
    error("Cannot serialise table: excessively sparse array", 0)
  end
  local out = {}
  if array and max > 0 then
    for i = 1, max do out[i] = encode(v[i], depth + 1) end
    return "[" .. concat(out, ",") .. "]"
  end
  for k, val in next, v do
    local key
    if type(k) == "string" then key = escape(k)
    elseif type(k) == "number" then key = '"' .. num2str(k) .. '"'
    else error("Cannot serialise table: table key must be a number or string", 0) end
    out[#out + 1] = key .. ":" .. encode(val, depth + 1)
  end
  return "{" .. concat(out, ",") .. "}"
end
G.cjson = {
  encode = function(...)
    if select("#", ...) ~= 1 then error("bad argument #1 to 'encode' (expected 1 argument)", 2) end
    local ok, r = pcall(encode, (...), 1)
    if not ok then error(r, 2) end
    return r
  end,
  decode = H.cjson_decode,
  null = null,
  encode_keep_buffer = function() end,
  encode_max_depth = function() end,
  decode_max_depth = function() end,
  encode_number_precision = function() end,
  encode_sparse_array = function() end,
  decode_invalid_numbers = function() end,
  encode_invalid_numbers = function() end,
}


-- struct (lua_struct.c, as each version ships it: F.structOld, 2.8–3.0's texts and offsets;
-- F.structOverflow, the size overflow check of 5.0.8+). Native order: little-endian (x86-64).
local function argError(n, fname, msg) raise("bad argument #" .. n .. " to '" .. fname .. "' (" .. msg .. ")") end
local function typeOf(v, given) if not given then return "no value" end return type(v) end
local function checkString(fname, n, v, given)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return num2str(v) end
  argError(n, fname, "string expected, got " .. typeOf(v, given))
end
local function checkNumber(fname, n, v, given)
  local x = tonumber(v)
  if type(v) ~= "number" and (type(v) ~= "string" or x == nil) then
    argError(n, fname, "number expected, got " .. typeOf(v, given))
  end
  return x
end
local function isdigit(c) return c ~= nil and c >= 48 and c <= 57 end
-- A double as C casts it to a 64-bit integer (negative: through the signed type).
local function castInt(n)
  if n ~= n then return mininteger end
  if n < 0 then
    if n <= -9.2233720368547758e18 then return mininteger end
    return tointeger(-floor(-n)) or 0
  end
  if n < 9.2233720368547758e18 then return tointeger(floor(n)) or 0 end
  if n < 1.8446744073709552e19 then return (tointeger(floor(n - 9.2233720368547758e18)) or 0) | mininteger end
  return 0
end
local struct = {}
do
  local MAXINTSIZE, MAXALIGN = 32, 8
  local INTMAX = 2147483647
  -- Reads the number at fmt[pos]; returns it (or df) and the next position.
  local function getnum(fmt, pos, df)
    if not isdigit(byte(fmt, pos)) then return df, pos end
    local a = 0
    repeat
      local d = byte(fmt, pos) - 48
      if a > INTMAX // 10 or a * 10 > INTMAX - d then
        if F.structOverflow then raise("integral size overflow") end
        a = (a * 10 + d) & 0xffffffff
        if a >= 0x80000000 then a = a - 0x100000000 end
      else
        a = a * 10 + d
      end
      pos = pos + 1
    until not isdigit(byte(fmt, pos))
    return a, pos
  end
  local SIZES = { b = 1, B = 1, h = 2, H = 2, l = 8, L = 8, T = 8, f = 4, d = 8, x = 1 }
  local function optsize(opt, fmt, pos)
    local sz = SIZES[opt]
    if sz then return sz, pos end
    if opt == "c" then return getnum(fmt, pos, 1) end
    if opt == "i" or opt == "I" then
      local n
      n, pos = getnum(fmt, pos, 4)
      if n > MAXINTSIZE then
        raise(fmt_("integral size %d is larger than limit of %d", n, MAXINTSIZE))
      end
      return n, pos
    end
    return 0, pos
  end
  local function gettoalign(len, h, opt, size)
    if size == 0 or opt == "c" then return 0 end
    if size > h.align then size = h.align end
    return (size - (len & (size - 1))) & (size - 1)
  end
  local function controloptions(opt, fmt, pos, h, fname)
    if opt == " " then return pos end
    if opt == ">" then h.little = false return pos end
    if opt == "<" then h.little = true return pos end
    if opt == "!" then
      local a
      a, pos = getnum(fmt, pos, MAXALIGN)
      if not (a > 0 and (a & (a - 1)) == 0) then
        raise(fmt_("alignment %d is not a power of 2", a))
      end
      h.align = a
      return pos
    end
    argError(1, fname, "invalid format option '" .. opt .. "'")
  end
  local INTS = { b = true, B = true, h = true, H = true, l = true, L = true, T = true, i = true, I = true }
  local function intBytes(v, size, little)
    local out = {}
    for i = 1, size do
      out[i] = v & 0xff
      v = v >> 8
    end
    if not little then
      local r = {}
      for i = 1, size do r[i] = out[size + 1 - i] end
      out = r
    end
    return char(unpack0(out))
  end
  struct.pack = function(...)
    local given = select("#", ...)
    local args = { ... }
    local fmt = checkString("pack", 1, args[1], given >= 1)
    local h = { little = true, align = 1 }
    local arg, total, out, pos = 2, 0, {}, 1
    while pos <= #fmt do
      local opt = char(byte(fmt, pos))
      pos = pos + 1
      local size
      size, pos = optsize(opt, fmt, pos)
      local toalign = gettoalign(total, h, opt, size)
      total = total + toalign
      if toalign > 0 then out[#out + 1] = string.rep("\0", toalign) end
      if INTS[opt] then
        local n = checkNumber("pack", arg, args[arg], given >= arg)
        arg = arg + 1
        out[#out + 1] = intBytes(castInt(n), size, h.little)
      elseif opt == "x" then
        out[#out + 1] = "\0"
      elseif opt == "f" or opt == "d" then
        local n = checkNumber("pack", arg, args[arg], given >= arg)
        arg = arg + 1
        out[#out + 1] = spack((h.little and "<" or ">") .. opt, n)
      elseif opt == "c" or opt == "s" then
        local str = checkString("pack", arg, args[arg], given >= arg)
        arg = arg + 1
        if size == 0 then size = #str end
        if #str < size then argError(arg, "pack", "string too short") end
        out[#out + 1] = str:sub(1, size)
        if opt == "s" then
          out[#out + 1] = "\0"
          size = size + 1
        end
      else
        pos = controloptions(opt, fmt, pos, h, "pack")
      end
      total = total + size
    end
    return concat(out)
  end
  local function getinteger(data, at, little, signed, size)
    local l = 0
    if not little then
      for i = 0, size - 1 do l = (l << 8) | byte(data, at + i) end
    else
      for i = size - 1, 0, -1 do l = (l << 8) | byte(data, at + i) end
    end
    if signed then
      if size < 8 then
        local mask = -1 << (size * 8 - 1)
        if l & mask ~= 0 then l = l | mask end
      end
      return l + 0.0
    end
    if l < 0 then return (l >> 1) * 2.0 + (l & 1) end
    return l + 0.0
  end
  struct.unpack = function(...)
    local given = select("#", ...)
    local fmt = checkString("unpack", 1, (...), given >= 1)
    local data = checkString("unpack", 2, (select(2, ...)), given >= 2)
    local p3 = select(3, ...)
    local pos = 1
    if p3 ~= nil then pos = castInt(checkNumber("unpack", 3, p3, true)) end
    if not F.structOld and pos <= 0 then argError(3, "unpack", "offset must be 1 or greater") end
    pos = pos - 1
    local ld = #data
    local h = { little = true, align = 1 }
    local res, n = {}, 0
    local fpos = 1
    while fpos <= #fmt do
      local opt = char(byte(fmt, fpos))
      fpos = fpos + 1
      local size
      size, fpos = optsize(opt, fmt, fpos)
      pos = pos + gettoalign(pos, h, opt, size)
      if pos < 0 or not (size <= ld and pos <= ld - size) then argError(2, "unpack", "data string too short") end
      if INTS[opt] then
        n = n + 1
        res[n] = getinteger(data, pos + 1, h.little, opt:lower() == opt, size)
      elseif opt == "x" then
      elseif opt == "f" or opt == "d" then
        n = n + 1
        res[n] = (sunpack((h.little and "<" or ">") .. opt, data, pos + 1)) + 0.0
      elseif opt == "c" then
        if size == 0 then
          if n == 0 or type(res[n]) ~= "number" and tonumber(res[n]) == nil then
            raise(F.structOld and "format \96c0' needs a previous size" or "format 'c0' needs a previous size")
          end
          size = castInt(tonumber(res[n]))
          res[n] = nil
          n = n - 1
          if size < 0 or not (size <= ld and pos <= ld - size) then argError(2, "unpack", "data string too short") end
        end
        n = n + 1
        res[n] = data:sub(pos + 1, pos + size)
      elseif opt == "s" then
        local e = data:find("\0", pos + 1, true)
        if e == nil then raise("unfinished string in data") end
        size = e - pos
        n = n + 1
        res[n] = data:sub(pos + 1, e - 1)
      else
        fpos = controloptions(opt, fmt, fpos, h, "unpack")
      end
      pos = pos + size
    end
    n = n + 1
    res[n] = pos + 1
    return unpack0(res, 1, n)
  end
  struct.size = function(...)
    local given = select("#", ...)
    local fmt = checkString("size", 1, (...), given >= 1)
    local h = { little = true, align = 1 }
    local pos, fpos = 0, 1
    while fpos <= #fmt do
      local opt = char(byte(fmt, fpos))
      fpos = fpos + 1
      local size
      size, fpos = optsize(opt, fmt, fpos)
      pos = pos + gettoalign(pos, h, opt, size)
      if opt == "s" then argError(1, "size", "option 's' has no fixed size")
      elseif opt == "c" and size == 0 then argError(1, "size", "option 'c0' has no fixed size") end
      if not opt:find("^%w$") then fpos = controloptions(opt, fmt, fpos, h, "size") end
      pos = pos + size
    end
    return pos
  end
end
for k, f in next, struct do struct[k] = cfunction(f) end
G.struct = struct

-- cmsgpack (lua_cmsgpack.c 0.4.0, the same in every version). Tables' keys come in Lua 5.4's
-- order, which is not always 5.1's.
local cmsgpack = { _NAME = "cmsgpack", _VERSION = "lua-cmsgpack 0.4.0",
  _COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo",
  _DESCRIPTION = "MessagePack C implementation for Lua" }
do
  local MAX_NESTING = 16
  local function encInt(n, out)
    if n >= 0 then
      if n <= 127 then out[#out + 1] = char(n)
      elseif n <= 0xff then out[#out + 1] = "\204" .. char(n)
      elseif n <= 0xffff then out[#out + 1] = spack(">BI2", 0xcd, n)
      elseif n <= 0xffffffff then out[#out + 1] = spack(">BI4", 0xce, n)
      else out[#out + 1] = spack(">Bi8", 0xcf, n) end
    else
      if n >= -32 then out[#out + 1] = char(n & 0xff)
      elseif n >= -128 then out[#out + 1] = spack(">Bi1", 0xd0, n)
      elseif n >= -32768 then out[#out + 1] = spack(">Bi2", 0xd1, n)
      elseif n >= -2147483648 then out[#out + 1] = spack(">Bi4", 0xd2, n)
      else out[#out + 1] = spack(">Bi8", 0xd3, n) end
    end
  end
  local function encDouble(d, out)
    local ok, f = pcall0(spack, ">f", d)
    if ok and sunpack(">f", f) == d then out[#out + 1] = "\202" .. f
    else out[#out + 1] = "\203" .. spack(">d", d) end
  end
  local function isArray(t)
    local count, max = 0, 0
    for k in next, t do
      if type(k) ~= "number" or k <= 0 or k ~= k or k >= 2147483648 or floor(k) ~= k then
        return false
      end
      if k > max then max = k end
      count = count + 1
    end
    return max == count
  end
  local encode
  encode = function(v, level, out)
    local t = type(v)
    if t == "table" and level == MAX_NESTING then t = "nil" end
    if t == "string" then
      local len = #v
      if len < 32 then out[#out + 1] = char(0xa0 | len)
      elseif len <= 0xff then out[#out + 1] = "\217" .. char(len)
      elseif len <= 0xffff then out[#out + 1] = spack(">BI2", 0xda, len)
      else out[#out + 1] = spack(">BI4", 0xdb, len) end
      out[#out + 1] = v
    elseif t == "boolean" then
      out[#out + 1] = v and "\195" or "\194"
    elseif t == "number" then
      if mtype(v) == "integer" then encInt(v, out)
      elseif v == v and v > -9.2233720368547758e18 - 1 and v < 9.2233720368547758e18 and floor(v) == v then
        encInt(tointeger(v) or mininteger, out)
      else encDouble(v, out) end
    elseif t == "table" then
      if isArray(v) then
        local len = rawlen0(v)
        if len <= 15 then out[#out + 1] = char(0x90 | len)
        elseif len <= 65535 then out[#out + 1] = spack(">BI2", 0xdc, len)
        else out[#out + 1] = spack(">BI4", 0xdd, len) end
        for j = 1, len do encode(v[j], level + 1, out) end
      else
        local len = 0
        for _ in next, v do len = len + 1 end
        if len <= 15 then out[#out + 1] = char(0x80 | len)
        elseif len <= 65535 then out[#out + 1] = spack(">BI2", 0xde, len)
        else out[#out + 1] = spack(">BI4", 0xdf, len) end
        for k, val in next, v do
          encode(k, level + 1, out)
          encode(val, level + 1, out)
        end
      end
    else
      out[#out + 1] = "\192"
    end
  end
  cmsgpack.pack = function(...)
    local n = select("#", ...)
    if n == 0 then raise("bad argument #0 to 'pack' (MessagePack pack needs input.)") end
    local out = {}
    for i = 1, n do encode((select(i, ...)), 0, out) end
    return concat(out)
  end
  -- Decoding: returns the value and the next position, or nil and "eof" / "bad".
  local decode
  local function need(s, p, n) return #s - p + 1 >= n end
  local function decodeArray(s, p, len, hash)
    local t = {}
    for i = 1, len do
      local k, v
      if hash then
        k, p = decode(s, p)
        if k == nil and type(p) == "string" then return nil, p end
      else
        k = i + 0.0
      end
      v, p = decode(s, p)
      if v == nil and type(p) == "string" then return nil, p end
      if k == nil then error("table index is nil", 0) end
      if k ~= k then error("table index is NaN", 0) end
      t[k] = v
    end
    return t, p
  end
  decode = function(s, p)
    if not need(s, p, 1) then return nil, "eof" end
    local b = byte(s, p)
    local function fixed(n, f)
      if not need(s, p, n + 1) then return nil, "eof" end
      return sunpack(f, s, p + 1), p + 1 + n
    end
    if b == 0xcc then return fixed(1, ">I1")
    elseif b == 0xd0 then return fixed(1, ">i1")
    elseif b == 0xcd then return fixed(2, ">I2")
    elseif b == 0xd1 then return fixed(2, ">i2")
    elseif b == 0xce then return fixed(4, ">I4")
    elseif b == 0xd2 then return fixed(4, ">i4")
    elseif b == 0xcf or b == 0xd3 then return fixed(8, ">i8")
    elseif b == 0xc0 then return nil, p + 1
    elseif b == 0xc3 then return true, p + 1
    elseif b == 0xc2 then return false, p + 1
    elseif b == 0xca then
      if not need(s, p, 5) then return nil, "eof" end
      return sunpack(">f", s, p + 1) + 0.0, p + 5
    elseif b == 0xcb then
      if not need(s, p, 9) then return nil, "eof" end
      return sunpack(">d", s, p + 1) + 0.0, p + 9
    elseif b == 0xd9 or b == 0xda or b == 0xdb then
      local w = b == 0xd9 and 1 or b == 0xda and 2 or 4
      if not need(s, p, 1 + w) then return nil, "eof" end
      local l = sunpack(">I" .. w, s, p + 1)
      if not need(s, p, 1 + w + l) then return nil, "eof" end
      return s:sub(p + 1 + w, p + w + l), p + 1 + w + l
    elseif b == 0xdc or b == 0xdd or b == 0xde or b == 0xdf then
      local w = (b == 0xdc or b == 0xde) and 2 or 4
      if not need(s, p, 1 + w) then return nil, "eof" end
      return decodeArray(s, p + 1 + w, sunpack(">I" .. w, s, p + 1), b >= 0xde)
    elseif b & 0x80 == 0 then return b, p + 1
    elseif b & 0xe0 == 0xe0 then return b - 256, p + 1
    elseif b & 0xe0 == 0xa0 then
      local l = b & 0x1f
      if not need(s, p, 1 + l) then return nil, "eof" end
      return s:sub(p + 1, p + l), p + 1 + l
    elseif b & 0xf0 == 0x90 then return decodeArray(s, p + 1, b & 0xf, false)
    elseif b & 0xf0 == 0x80 then return decodeArray(s, p + 1, b & 0xf, true)
    end
    return nil, "bad"
  end
  local function unpackFull(fname, s, given, limit, offset)
    s = checkString(fname, 1, s, given)
    local len = #s
    local decodeAll = limit == 0 and offset == 0
    if offset < 0 or limit < 0 then
      raise(fmt_("Invalid request to unpack with offset of %d and limit of %d.", offset, len))
    elseif offset > len then
      raise(fmt_("Start offset %d greater than input length %d.", offset, len))
    end
    if decodeAll then limit = 2147483647 end
    local out, cnt, p = {}, 0, offset + 1
    while p <= len and cnt < limit do
      local v, np = decode(s, p)
      if v == nil and type(np) == "string" then
        raise(np == "eof" and "Missing bytes in input." or "Bad data format in input.")
      end
      cnt = cnt + 1
      out[cnt] = v
      p = np
    end
    if not decodeAll then
      return (p > len) and -1 or (p - 1), unpack0(out, 1, cnt)
    end
    return unpack0(out, 1, cnt)
  end
  local function optInt(fname, n, v, df)
    if v == nil then return df end
    return castInt(checkNumber(fname, n, v, true))
  end
  cmsgpack.unpack = function(...)
    return unpackFull("unpack", (...), select("#", ...) >= 1, 0, 0)
  end
  cmsgpack.unpack_one = function(...)
    local offset = optInt("unpack_one", 2, (select(2, ...)), 0)
    return unpackFull("unpack_one", (...), select("#", ...) >= 1, 1, offset)
  end
  cmsgpack.unpack_limit = function(...)
    local given = select("#", ...)
    local limit = castInt(checkNumber("unpack_limit", 2, (select(2, ...)), given >= 2))
    local offset = optInt("unpack_limit", 3, (select(3, ...)), 0)
    return unpackFull("unpack_limit", (...), given >= 1, limit, offset)
  end
end
for _, k in ipairs({ "pack", "unpack", "unpack_one", "unpack_limit" }) do
  cmsgpack[k] = cfunction(cmsgpack[k])
end
G.cmsgpack = cmsgpack

-- The redis table.
local redis = {
  call = H.call, pcall = H.pcall, sha1hex = H.sha1hex, log = H.log,
  set_repl = H.set_repl,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = F.v50 and 2 or nil, REPL_ALL = 3,
}
-- 3.2 brought effects replication and the debugger's functions.
if F.v32 then
  redis.replicate_commands = function() return true end
  redis.breakpoint = function() return false end
  redis.debug = function() end
else
  redis.set_repl = nil
  redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = nil, nil, nil, nil, nil
end
if F.resp3 then redis.setresp = H.setresp end
if F.v7 then
  redis.REDIS_VERSION = version
  redis.REDIS_VERSION_NUM = versionNum
  redis.error_reply = function(...)
    local e = ...
    if select("#", ...) ~= 1 or type(e) ~= "string" then
      return { err = "ERR wrong number or type of arguments" }
    end
    if byte(e, 1) ~= 45 then e = "-" .. e end
    local sp = e:find(" ", 1, true)
    local code, msg
    if sp then code, msg = e:sub(2, sp - 1), e:sub(sp + 1) else code, msg = "ERR", e:sub(2) end
    msg = gsub(gsub(msg, "^[\r\n]+", ""), "[\r\n]+$", "")
    return { err = code .. " " .. msg }
  end
  redis.status_reply = function(...)
    local s = ...
    if select("#", ...) ~= 1 or type(s) ~= "string" then
      return { err = "ERR wrong number or type of arguments" }
    end
    return { ok = s }
  end
else
  -- luaRedisErrorReplyCommand / luaRedisStatusReplyCommand: one string, else
  -- luaPushError's table at the caller's line.
  local function reply(field)
    return cfunction(function(...)
      local v = ...
      if select("#", ...) ~= 1 or type(v) ~= "string" then
        for level = 3, 200 do
          local i = dbg_getinfo(level, "Slf")
          if i == nil or (i.what == "C" and not wrapped[i.func]) then break end
          if byte(i.source, 1) == 64 then
            return { err = i.source .. ": " .. i.currentline .. ": wrong number or type of arguments" }
          end
        end
        return { err = "wrong number or type of arguments" }
      end
      return { [field] = v }
    end)
  end
  redis.error_reply = reply("err")
  redis.status_reply = reply("ok")
end
G.redis = redis

-- CVE-2022-0543: Debian's and Ubuntu's packages of an affected version let scripts reach the
-- package library. Here its loadlib seems to work and popen/execute return empty output;
-- nothing is executed (H.exec only records the command).
if vulnerable then
  local function handle()
    local h = {}
    h.read = function() return "" end
    h.lines = function() return function() return nil end end
    h.write = function(self) return self end
    h.close = function() return true end
    h.flush = function() return true end
    h.seek = function() return 0 end
    h.setvbuf = function() return true end
    return h
  end
  local fakeio = {
    popen = function(cmd) H.exec(tostring0(cmd)) return handle() end,
    open = function() return nil, "Permission denied", 13 end,
    read = function() return nil end,
    write = function() return true end,
    lines = function() return function() return nil end end,
    close = function() return true end,
    stdin = handle(), stdout = handle(), stderr = handle(),
    type = function() return nil end,
  }
  local fakeos = {
    execute = function(cmd) if cmd ~= nil then H.exec(tostring0(cmd)) end return 0 end,
    getenv = function() return nil end,
    time = function() return H.time() end,
    clock = function() return 0.01 end,
    date = function() return "" end,
    remove = function() return nil, "Permission denied", 13 end,
    rename = function() return nil, "Permission denied", 13 end,
    tmpname = function() return "/tmp/lua_" .. "a2Xk9f" end,
    exit = function() end,
  }
  local opens = { luaopen_io = fakeio, luaopen_os = fakeos }
  G.package = {
    loadlib = function(path, sym)
      local lib = opens[sym]
      if lib == nil then return nil, "undefined symbol: " .. tostring0(sym), "init" end
      return function() return lib end
    end,
    loaded = {},
    preload = {},
    path = "/usr/local/share/lua/5.1/?.lua;/usr/local/share/lua/5.1/?/init.lua;/usr/local/lib/lua/5.1/?.lua;/usr/local/lib/lua/5.1/?/init.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua",
    cpath = "/usr/local/lib/lua/5.1/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;/usr/lib/lua/5.1/?.so;/usr/local/lib/lua/5.1/loadall.so",
    config = "/\n;\n?\n!\n-\n",
    seeall = function() end,
  }
end

-- Redis removes debug once its error handler holds it ("debug = nil" in eval.c).
local dbg_getupvalue = debug.getupvalue
G.debug = nil

-- The step bound ends a script as SCRIPT KILL does (the hook's error, "Script killed by user
-- with SCRIPT KILL..."), at the script's line where it ran (not the prelude's, when the bound
-- was re-raised by a pcall wrapper).
local KILLED = "Script killed by user with SCRIPT KILL..."
local function scriptLevel()
  for level = 3, 200 do
    local i = dbg_getinfo(level, "Sl")
    if i == nil then return nil end
    if byte(i.source, 1) == 64 then return i end
  end
end

local handler
if F.v7 then
  handler = function(err)
    if err == STEPS then
      local i = scriptLevel()
      local e = { err = "ERR " .. KILLED }
      if i then e["source"], e["line"] = i.source, i.currentline end
      return e
    end
    local i = dbg_getinfo(2, "nSl")
    if i and (i.what == "C" or byte(i.source, 1) ~= 64) then i = scriptLevel() end
    if type(err) ~= "table" then err = { err = "ERR " .. as51(tostring(err)) } end
    if i then
      err["source"] = i.source
      err["line"] = i.currentline
    end
    return err
  end
else
  handler = function(err)
    if err == STEPS then
      local i = scriptLevel()
      if i then return i.source .. ":" .. i.currentline .. ": " .. KILLED end
      return KILLED
    end
    local i = dbg_getinfo(2, "nSl")
    if i and (i.what == "C" or byte(i.source, 1) ~= 64) then i = scriptLevel() end
    if type(err) ~= "string" and type(err) ~= "number" then
      -- eval.c's handler concatenates the error: a table, nil or boolean fails, and the
      -- handler is called on its own error.
      local at = "err_handler_def:" .. F.handlerLine
      return "@" .. at .. ": " .. at .. ": attempt to concatenate local 'err' (a " .. type(err) .. " value)"
    end
    err = as51(tostring(err))
    if F.strict and err:find("Script attempted to access %a+ global variable") then
      return "@enable_strict_lua:15: " .. err
    end
    if F.strict and err:find("Script attempted to create global variable", 1, true) then
      return "@enable_strict_lua:8: " .. err
    end
    if i then return i.source .. ":" .. i.currentline .. ": " .. err end
    return err
  end
end

-- Globals protection.
if F.readonly then
  local protected = setmetatable0({}, { __mode = "k" })
  local function proxy(real)
    local p = {}
    protected[p] = true
    setmetatable0(p, { __index = real, __newindex = H.readonly,
      __pairs = function() return next, real, nil end,
      __len = function() return #real end, __metatable = false })
    return p
  end
  for _, name in ipairs({ "string", "math", "table", "coroutine", "redis", "cjson", "bit",
      "struct", "cmsgpack", "package", "os" }) do
    if G[name] ~= nil then G[name] = proxy(G[name]) end
  end
  rawset = function(t, k, v)
    if protected[t] then return H.readonly() end
    return rawset0(t, k, v)
  end
  setmetatable = function(t, mt)
    if protected[t] then return H.readonly() end
    return setmetatable0(t, mt)
  end
  envProxy = proxy(G)
  G._G = envProxy
  setmetatable0(G, { __index = H.noglobal })
else
  envProxy = G
  setmetatable0(G, { __index = H.noglobal, __newindex = H.noglobalset })
end
ipairs = ipairs

-- Lua 5.1's function environments, over 5.4's _ENV upvalue (never handing out the real
-- globals table where the version protects it); newproxy's userdata comes from the host.
-- Debian's 7.0 package has none of the three.
if F.fenv then
  local function envSlot(f)
    if type(f) ~= "function" then return nil end
    for n = 1, 255 do
      local name = dbg_getupvalue(f, n)
      if name == nil then return nil end
      if name == "_ENV" then return n end
    end
  end
  local function target(f, fname)
    if type(f) == "function" then return f end
    local level = f
    if level == nil then level = 1 end
    level = tonumber(level)
    if level == nil then
      error("bad argument #1 to '" .. fname .. "' (number expected, got " .. type(f) .. ")", 3)
    end
    if level < 0 then error("bad argument #1 to '" .. fname .. "' (level must be non-negative)", 3) end
    if level == 0 then return 0 end
    local i = dbg_getinfo(level + 2, "f")
    if i == nil then error("bad argument #1 to '" .. fname .. "' (invalid level)", 3) end
    return i.func
  end
  rawset0(G, "getfenv", function(f)
    local fn = target(f, "getfenv")
    local n = fn ~= 0 and envSlot(fn)
    if not n then return envProxy end
    local _, env = dbg_getupvalue(fn, n)
    if env == G then return envProxy end
    return env
  end)
  rawset0(G, "setfenv", function(f, t)
    if type(t) ~= "table" then
      error("bad argument #2 to 'setfenv' (table expected, got " .. (t == nil and "no value" or type(t)) .. ")", 2)
    end
    local fn = target(f, "setfenv")
    local n = fn ~= 0 and envSlot(fn)
    if not n or dbg_getinfo(fn, "S").source ~= "@user_script" and dbg_getinfo(fn, "S").source ~= "@user_function" then
      error("'setfenv' cannot change environment of given object", 2)
    end
    dbg_setupvalue(fn, n, t)
    return fn
  end)
  rawset0(G, "newproxy", H.newproxy)
end
-- Valkey 8 names the redis table "server" too.
if F.serverAlias then rawset0(G, "server", rawget(G, "redis")) end

-- FUNCTION LOAD / FCALL (7.0+): run a library's code with the load-time redis table, whose
-- register_function collects the callbacks; returns them and each one's flags.
local FLAGS = { ["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
  ["no-cluster"] = true, ["allow-cross-slot-keys"] = true }
local function runLibrary(chunk)
  local callbacks, flagsOf = {}, {}
  local count = 0
  local function register(...)
    local n = select("#", ...)
    local name, cb, flags
    local a = ...
    if n == 1 and type(a) == "table" then
      for k in next, a do
        if k ~= "function_name" and k ~= "callback" and k ~= "flags" and k ~= "description" then
          error("unknown argument given to redis.register_function", 2)
        end
      end
      name, cb, flags = a.function_name, a.callback, a.flags
      if type(name) ~= "string" then error("function_name argument given to redis.register_function must be a string", 2) end
      if type(cb) ~= "function" then error("callback argument given to redis.register_function must be a function", 2) end
      if flags ~= nil and type(flags) ~= "table" then error("flags argument to redis.register_function must be a table representing function flags", 2) end
    elseif n == 2 then
      name, cb = ...
      if type(name) ~= "string" then error("first argument to redis.register_function must be a string", 2) end
      if type(cb) ~= "function" then error("second argument to redis.register_function must be a function", 2) end
    else
      error("wrong number of arguments to redis.register_function", 2)
    end
    if name == "" or name:find("[^%w_]") then
      error("Function names can only contain letters, numbers, or underscores(_) and must be at least one character long", 2)
    end
    if callbacks[name] ~= nil then error("Function already exists in the library", 2) end
    local list = {}
    for _, f in ipairs(flags or {}) do
      if not FLAGS[f] then error("unknown flag given", 2) end
      list[#list + 1] = f
    end
    count = count + 1
    if count > 256 then error("too many functions in one library", 2) end
    callbacks[name] = cb
    flagsOf[name] = list
  end
  -- While loading, the library sees only its API (function_lua.c's LIBRARY_API); then its
  -- globals become the ordinary ones for the functions it registered.
  local api = setmetatable0({ register_function = register, log = redis.log, LOG_DEBUG = 0,
    LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3, REDIS_VERSION = version,
    REDIS_VERSION_NUM = versionNum }, { __index = H.noglobal })
  local loadG = setmetatable0({ redis = setmetatable0({}, { __index = api,
    __newindex = H.readonly, __metatable = false }) }, { __index = H.noglobal })
  local mt = { __index = loadG, __newindex = H.readonly, __metatable = false }
  local fenv = setmetatable0({}, mt)
  dbg_setupvalue(chunk, 1, fenv)
  chunk()
  mt.__index = envProxy
  return callbacks, flagsOf
end

return handler, envProxy, function() return X end, runLibrary
`;
