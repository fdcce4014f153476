-- The same-work peer of Usher's GET /v/{id}?token=… for Benchmarks/load/run (nginx + LuaJIT, Debian's
-- libnginx-mod-http-lua): what Usher does per request with its in-process cache off, written the plain way in
-- OpenResty style, so that Usher's CPU per request can be compared with a server doing the same work.
--
-- Per request, like Usher (CONTRACT § Gateway):
--   1. The id: 1–128 of [A-Za-z0-9._-], not "." or ".." (else 404).
--   2. The viewer token, first of `Authorization: Bearer`, `?token=`, cookie `usher_token`: a compact HS256 JWS.
--      Header (base64url → cjson): `alg` must be HS256, `crit` refused, `kid` selects the key (without `kid`, the
--      one HS256 key). Signature: HMAC-SHA256 over `header.claims` via LuaJIT FFI to libcrypto's `HMAC()`,
--      compared with `CRYPTO_memcmp`. Claims (cjson): `exp` required, `nbf`/`iat` not in the future, all with 30 s
--      leeway; `aud` a string or array holding the audience; the scope `vid` (id or array) and/or `own`.
--      An invalid token answers 401 before any lookup.
--   3. A Redis GET of `usher:gen:{id}` (Usher's key and record encoding, Sources/Delivery/Generations/
--      DeliveryRecord+CacheEncoding.swift) over a keepalive cosocket (ngx.socket.tcp + setkeepalive), speaking RESP
--      itself: Debian 12 ships lua-resty-redis only as lua-nginx-redis, which depends on nginx-extras (two dozen
--      more nginx modules), so the peer writes the one command it needs.
--   4. The decisions: unknown → 404, private without a token → 401, scope not covering the id (`vid` holds it, or
--      `own` is the record's owner) → 403, PENDING/MIRRORING → 503 + Retry-After: 5, FAILED/DELETED or no key
--      → 410.
--   5. A SigV4 presigned GET (Sources/SigV4/Presigner.swift): key percent-encoded once (RFC 3986 unreserved and
--      `/` bare), X-Amz-Algorithm, -Credential, -Date, -Expires (PRESIGN_TTL, default 900, + PRESIGN_WINDOW),
--      -SignedHeaders=host [, -Security-Token], UNSIGNED-PAYLOAD; SHA-256 via `SHA256()` and HMAC via `HMAC()` from
--      libcrypto.so.3, hex and URI encoding in Lua; the signing key derived once per UTC day, as Usher does.
--   6. 302 with Location, `Cache-Control: private, max-age=<seconds the URL stays valid − 60, ≥ 0>`,
--      `Referrer-Policy: no-referrer` and Content-Length: 0; errors are Usher's problem+json bodies.
--
-- Not done, where Usher does more: no in-process token cache (the peer verifies every token; Usher's per-loop
-- token cache serves a repeated token without the HMAC), no revocation list, no play counting, no Postgres
-- read-through on a Redis miss (the peer answers 404; the benchmark's ids are all in Redis), no EdDSA keys, no
-- `?download=1`, no CORS, no rate limits; duplicate JSON members are not refused (cjson keeps the last).
--
-- Configuration comes from the environment Usher reads (nginx-lua.conf.in lists them with `env`):
-- USHER_TOKEN_KEYS (JWKS file), USHER_TOKEN_AUDIENCE [usher], REDIS_URL, S3_ENDPOINT, S3_REGION [auto], S3_BUCKET,
-- S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_SESSION_TOKEN, S3_ADDRESSING [path], PRESIGN_TTL [900],
-- PRESIGN_WINDOW [0].
--
-- `check_presign()` (location /_check/presign in nginx-lua.conf.in) presigns a JSON array of cases in
-- Tests/Support/botocore_presign.py's input format, so bench.py can compare the peer's signer with botocore's on
-- the same fixed inputs.

local ffi = require("ffi")
local bit = require("bit")
local cjson = require("cjson.safe")
local b64 = require("ngx.base64")

local ngx = ngx
local C = ffi.C
local band, rshift = bit.band, bit.rshift
local byte, sub, find, gsub, format = string.byte, string.sub, string.find, string.gsub, string.format
local floor = math.floor
local type, tonumber, tostring, ipairs = type, tonumber, tostring, ipairs
local decode_base64url = b64.decode_base64url

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len, const unsigned char *data, size_t data_len,
                    unsigned char *md, unsigned int *md_len);
unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);
int CRYPTO_memcmp(const void *a, const void *b, size_t len);
]]

local crypto = ffi.load("libcrypto.so.3")
local sha256_md = crypto.EVP_sha256()
local digest = ffi.new("unsigned char[32]")
local digest_len = ffi.new("unsigned int[1]")
local hex_out = ffi.new("unsigned char[64]")
local hex_digits = ffi.new("const unsigned char[16]", { byte("0123456789abcdef", 1, 16) })

local _M = {}

-- ---------------------------------------------------------------- crypto and encodings

-- HMAC-SHA256 into `digest` (no Lua string made).
local function hmac_into(key, data)
  crypto.HMAC(sha256_md, key, #key, data, #data, digest, digest_len)
end

local function hmac(key, data)
  hmac_into(key, data)
  return ffi.string(digest, 32)
end

-- Lowercase hex of the 32 bytes in `digest`.
local function digest_hex()
  for i = 0, 31 do
    local b = digest[i]
    hex_out[2 * i] = hex_digits[rshift(b, 4)]
    hex_out[2 * i + 1] = hex_digits[band(b, 15)]
  end
  return ffi.string(hex_out, 64)
end

local function sha256_hex(data)
  crypto.SHA256(data, #data, digest)
  return digest_hex()
end

-- SigV4's percent-encoding: every byte but A-Za-z0-9-._~ (and `/` in a key) becomes %XX, uppercase hex.
local escapes = {}
for b = 0, 255 do escapes[string.char(b)] = format("%%%02X", b) end
local function uri_encode(s, keep_slash)
  if keep_slash then
    return (gsub(s, "[^A-Za-z0-9%-%._~/]", escapes))
  end
  return (gsub(s, "[^A-Za-z0-9%-%._~]", escapes))
end

-- ---------------------------------------------------------------- SigV4 presigner

local Presigner = {}
Presigner.__index = Presigner

-- cfg: endpoint, region, bucket, access_key, secret_key, token?, addressing ("path"|"virtual"), window?
local function new_presigner(cfg)
  local endpoint = (cfg.endpoint or ""):lower()
  local scheme, rest = endpoint:match("^(https?)://(.+)$")
  assert(scheme, "S3 endpoint must start with http:// or https://: " .. tostring(cfg.endpoint))
  rest = rest:gsub("/+$", "")
  assert(rest ~= "" and not rest:find("[/?@]"), "S3 endpoint must be scheme://host[:port]: " .. tostring(cfg.endpoint))
  local host, port = rest:match("^(%[[^%]]+%]):?(%d*)$")
  if not host then host, port = rest:match("^([^:]+):?(%d*)$") end
  assert(host, "S3 endpoint must be scheme://host[:port]: " .. tostring(cfg.endpoint))
  port = tonumber(port)
  local authority = port and (host .. ":" .. port) or host
  local signed_host = (port and port ~= (scheme == "https" and 443 or 80)) and (host .. ":" .. port) or host
  local prefix = cfg.addressing == "virtual" and (cfg.bucket .. ".") or ""
  local region = cfg.region or "auto"
  local self = setmetatable({
    url_prefix = scheme .. "://" .. prefix .. authority,
    path_prefix = cfg.addressing == "virtual" and "/" or ("/" .. uri_encode(cfg.bucket, false) .. "/"),
    signed_host = prefix .. signed_host,
    credential_prefix = uri_encode(cfg.access_key, false) .. "%2F",
    scope_suffix = "/" .. region .. "/s3/aws4_request",
    encoded_scope_suffix = uri_encode("/" .. region .. "/s3/aws4_request", false),
    encoded_token = cfg.token and cfg.token ~= "" and uri_encode(cfg.token, false) or nil,
    secret = cfg.secret_key,
    region = region,
    window = cfg.window or 0,
    key_day = nil,
    signing_key = nil,
    stamp_time = nil,
    stamp_date = nil,
    stamp = nil,
  }, Presigner)
  return self
end

-- kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), "s3"), "aws4_request"), once per UTC day.
function Presigner:key_for(date)
  if self.key_day ~= date then
    local k = hmac("AWS4" .. self.secret, date)
    k = hmac(k, self.region)
    k = hmac(k, "s3")
    self.signing_key = hmac(k, "aws4_request")
    self.key_day = date
  end
  return self.signing_key
end

-- The presigned GET of `key`, valid `ttl` seconds (+ the window) from `now`; nil for a key outside 1…1024 bytes.
-- Returns the URL and the Unix second it expires.
function Presigner:presign(key, ttl, now)
  local n = #key
  if n < 1 or n > 1024 then return nil end
  local window = self.window
  local expires = ttl + window
  local t = window > 0 and floor(now / window) * window or now
  if t ~= self.stamp_time then
    self.stamp_date = os.date("!%Y%m%d", t)
    self.stamp = os.date("!%Y%m%dT%H%M%SZ", t)
    self.stamp_time = t
  end
  local date, stamp = self.stamp_date, self.stamp
  local path = self.path_prefix .. uri_encode(key, true)
  local auth = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" .. self.credential_prefix .. date
      .. self.encoded_scope_suffix .. "&X-Amz-Date=" .. stamp .. "&X-Amz-Expires=" .. expires
  local token = self.encoded_token
  -- The canonical query is sorted (Security-Token before SignedHeaders); the URL lists them in botocore's order.
  local canonical_query, url_query
  if token then
    canonical_query = auth .. "&X-Amz-Security-Token=" .. token .. "&X-Amz-SignedHeaders=host"
    url_query = auth .. "&X-Amz-SignedHeaders=host&X-Amz-Security-Token=" .. token
  else
    canonical_query = auth .. "&X-Amz-SignedHeaders=host"
    url_query = canonical_query
  end
  local canonical = "GET\n" .. path .. "\n" .. canonical_query .. "\nhost:" .. self.signed_host
      .. "\n\nhost\nUNSIGNED-PAYLOAD"
  local to_sign = "AWS4-HMAC-SHA256\n" .. stamp .. "\n" .. date .. self.scope_suffix .. "\n" .. sha256_hex(canonical)
  hmac_into(self:key_for(date), to_sign)
  return self.url_prefix .. path .. "?" .. url_query .. "&X-Amz-Signature=" .. digest_hex(), t + expires
end

_M.new_presigner = new_presigner

-- ---------------------------------------------------------------- configuration (init_by_lua, in the master)

local config -- filled by init()

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then error("cannot read " .. tostring(path) .. ": " .. tostring(err)) end
  local text = f:read("*a")
  f:close()
  return text
end

function _M.init()
  local env = os.getenv
  local keys_path = env("USHER_TOKEN_KEYS") or error("USHER_TOKEN_KEYS is not set")
  local jwks = cjson.decode(read_file(keys_path))
  assert(type(jwks) == "table" and type(jwks.keys) == "table", keys_path .. " is not a JWKS")
  local keys, hs256 = {}, {}
  for _, k in ipairs(jwks.keys) do
    if k.kty == "oct" then
      local secret = decode_base64url(k.k or "")
      assert(secret and #secret >= 32, "HS256 key " .. tostring(k.kid) .. " is shorter than 32 bytes")
      local key = { kid = k.kid, secret = secret }
      if k.kid then keys[k.kid] = key end
      hs256[#hs256 + 1] = key
    elseif k.kid then
      keys[k.kid] = { kid = k.kid, other = true } -- an EdDSA key: its kid exists, its tokens are refused here
    end
  end

  local redis_url = env("REDIS_URL") or "redis://127.0.0.1:6379/0"
  local rhost, rport, rdb = redis_url:match("^redis://([^:/@]+):?(%d*)/?(%d*)$")
  assert(rhost, "REDIS_URL must be redis://host[:port][/db] (the peer takes no credentials): " .. redis_url)

  local ttl = tonumber(env("PRESIGN_TTL") or "900")
  local window = tonumber(env("PRESIGN_WINDOW") or "0")
  local presigner = new_presigner {
    endpoint = env("S3_ENDPOINT") or ("https://s3." .. (env("S3_REGION") or "auto") .. ".amazonaws.com"),
    region = env("S3_REGION") or "auto",
    bucket = env("S3_BUCKET") or error("S3_BUCKET is not set"),
    access_key = env("S3_ACCESS_KEY_ID") or error("S3_ACCESS_KEY_ID is not set"),
    secret_key = env("S3_SECRET_ACCESS_KEY") or error("S3_SECRET_ACCESS_KEY is not set"),
    token = env("S3_SESSION_TOKEN"),
    addressing = env("S3_ADDRESSING") or "path",
    window = window,
  }
  config = {
    keys = keys,
    only_hs256 = #hs256 == 1 and hs256[1] or nil,
    audience = env("USHER_TOKEN_AUDIENCE") or "usher",
    leeway = 30,
    redis_host = rhost,
    redis_port = tonumber(rport) or 6379,
    redis_db = tonumber(rdb) or 0,
    ttl = ttl,
    presigner = presigner,
  }
end

-- ---------------------------------------------------------------- answers

local function problem(code, title, status, detail)
  return format('{"type":"https://usher.dev/problems/%s","title":"%s","status":%d,"detail":"%s"}',
    code, title, status, detail)
end

local P = {
  not_found = { 404, problem("not-found", "Not Found", 404, "No video with this id.") },
  missing_token = { 401, problem("token-required", "Unauthorized", 401, "This video needs a viewer token."),
    'Bearer realm="usher"' },
  invalid_token = { 401, problem("invalid-token", "Unauthorized", 401, "The viewer token is invalid or expired."),
    'Bearer realm="usher", error="invalid_token"' },
  forbidden = { 403, problem("not-in-scope", "Forbidden", 403, "The viewer token does not cover this video.") },
  gone = { 410, problem("gone", "Gone", 410, "This video is no longer available.") },
  not_ready = { 503, problem("not-ready", "Service Unavailable", 503, "The video is still being prepared."), nil, "5" },
  unavailable = { 503, problem("unavailable", "Service Unavailable", 503, "Try again shortly."), nil, "2" },
  method = { 405, problem("method-not-allowed", "Method Not Allowed", 405, "Use GET or HEAD.") },
}

local function answer_problem(p)
  local h = ngx.header
  ngx.status = p[1]
  h["Cache-Control"] = "no-store"
  h["Content-Type"] = "application/problem+json"
  if p[3] then h["WWW-Authenticate"] = p[3] end
  if p[4] then h["Retry-After"] = p[4] end
  h["Content-Length"] = #p[2]
  if ngx.var.request_method ~= "HEAD" then ngx.print(p[2]) end
  return ngx.exit(p[1])
end

-- ---------------------------------------------------------------- token

-- The grant of a valid token, or nil.
local function verify(token, now)
  if #token > 4096 then return nil end
  local d1 = find(token, ".", 1, true)
  if not d1 then return nil end
  local d2 = find(token, ".", d1 + 1, true)
  if not d2 or find(token, ".", d2 + 1, true) or d1 == 1 or d2 == d1 + 1 then return nil end

  local header_json = decode_base64url(sub(token, 1, d1 - 1))
  if not header_json then return nil end
  local header = cjson.decode(header_json)
  if type(header) ~= "table" or header.alg ~= "HS256" or header.crit ~= nil then return nil end
  local kid = header.kid
  local key
  if kid ~= nil then
    if type(kid) ~= "string" then return nil end
    key = config.keys[kid]
  else
    key = config.only_hs256
  end
  if not key or not key.secret then return nil end

  local signature = decode_base64url(sub(token, d2 + 1))
  if not signature or #signature ~= 32 then return nil end
  local signing_input = sub(token, 1, d2 - 1)
  hmac_into(key.secret, signing_input)
  if crypto.CRYPTO_memcmp(digest, signature, 32) ~= 0 then return nil end

  local claims_json = decode_base64url(sub(token, d1 + 1, d2 - 1))
  if not claims_json then return nil end
  local claims = cjson.decode(claims_json)
  if type(claims) ~= "table" then return nil end
  local leeway = config.leeway
  local exp, nbf, iat = claims.exp, claims.nbf, claims.iat
  if type(exp) ~= "number" or not (now < exp + leeway) then return nil end
  if nbf ~= nil and (type(nbf) ~= "number" or now + leeway < nbf) then return nil end
  if iat ~= nil and (type(iat) ~= "number" or now + leeway < iat) then return nil end
  local aud = claims.aud
  if aud ~= nil then
    if type(aud) == "string" then
      if aud ~= config.audience then return nil end
    elseif type(aud) == "table" then
      local ok = false
      for _, a in ipairs(aud) do
        if type(a) ~= "string" then return nil end
        if a == config.audience then ok = true end
      end
      if not ok then return nil end
    else
      return nil
    end
  end
  local vid, own = claims.vid, claims.own
  if vid ~= nil and type(vid) ~= "string" then
    if type(vid) ~= "table" then return nil end
    for _, v in ipairs(vid) do if type(v) ~= "string" then return nil end end
    if #vid == 0 then vid = nil end
  end
  if own ~= nil and type(own) ~= "string" then return nil end
  if vid == nil and own == nil then return nil end
  return claims
end

local function covers(grant, id, owner)
  local own = grant.own
  if own ~= nil and owner ~= nil and own == owner then return true end
  local vid = grant.vid
  if vid == nil then return false end
  if type(vid) == "string" then return vid == id end
  for _, v in ipairs(vid) do if v == id then return true end end
  return false
end

-- ---------------------------------------------------------------- Redis

-- GET `key` on a pooled connection: the value, false for a nil reply, or nil + an error.
local function redis_get(key)
  local sock = ngx.socket.tcp()
  sock:settimeouts(1000, 1000, 1000)
  local ok, err = sock:connect(config.redis_host, config.redis_port, { pool_size = 256 })
  if not ok then return nil, err end
  if config.redis_db ~= 0 and sock:getreusedtimes() == 0 then
    local db = tostring(config.redis_db)
    sock:send("*2\r\n$6\r\nSELECT\r\n$" .. #db .. "\r\n" .. db .. "\r\n")
    local line = sock:receive("*l")
    if line ~= "+OK" then sock:close(); return nil, "SELECT failed: " .. tostring(line) end
  end
  local _, serr = sock:send("*2\r\n$3\r\nGET\r\n$" .. #key .. "\r\n" .. key .. "\r\n")
  if serr then sock:close(); return nil, serr end
  local line, rerr = sock:receive("*l")
  if not line then sock:close(); return nil, rerr end
  local value
  if byte(line, 1) == 36 then -- '$'
    local n = tonumber(sub(line, 2))
    if not n then sock:close(); return nil, "bad reply " .. line end
    if n < 0 then
      value = false
    else
      local data, derr = sock:receive(n + 2)
      if not data then sock:close(); return nil, derr end
      value = sub(data, 1, n)
    end
  else
    sock:close()
    return nil, "reply " .. line
  end
  sock:setkeepalive(60000, 256)
  return value
end

-- The record's fields from Usher's cache encoding: status, visibility, owner, object key (nil if unreadable).
local function be32(s, i)
  local a, b, c, d = byte(s, i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

local function parse_record(v)
  if #v < 3 or byte(v, 1) ~= 49 then return nil end -- '1'
  local status, visibility = sub(v, 2, 2), sub(v, 3, 3)
  local i, fields = 4, {}
  for f = 1, 3 do
    if i + 3 > #v then return nil end
    local n = be32(v, i)
    i = i + 4
    if n == 0xFFFFFFFF then
      fields[f] = false
    else
      if i + n - 1 > #v then return nil end
      fields[f] = sub(v, i, i + n - 1)
      i = i + n
    end
  end
  if i ~= #v + 1 then return nil end
  return status, visibility, fields[1] or nil, fields[2] or nil
end

-- ---------------------------------------------------------------- GET|HEAD /v/{id}

local function bearer(value)
  if value and #value > 7 and sub(value, 1, 7):lower() == "bearer " then
    local t = value:match("^%s*(.-)%s*$", 8)
    if t ~= "" then return t end
  end
  return nil
end

function _M.serve()
  local var = ngx.var
  local method = var.request_method
  if method ~= "GET" and method ~= "HEAD" then
    ngx.header["Allow"] = "GET, HEAD"
    return answer_problem(P.method)
  end
  local id = sub(var.uri, 4)
  if #id > 128 or not find(id, "^[A-Za-z0-9%._%-]+$") or id == "." or id == ".." then
    return answer_problem(P.not_found)
  end
  local now = ngx.time()

  local token = bearer(var.http_authorization)
  if not token then
    token = var.arg_token
    if token == "" then token = nil end
    if token and find(token, "%", 1, true) then token = ngx.unescape_uri(token) end
    if not token then
      token = var.cookie_usher_token
      if token == "" then token = nil end
    end
  end
  local grant
  if token then
    grant = verify(token, now)
    if not grant then return answer_problem(P.invalid_token) end
  end

  local value, err = redis_get("usher:gen:" .. id)
  if value == nil then
    ngx.log(ngx.ERR, "redis: ", err)
    return answer_problem(P.unavailable)
  end
  if value == false or value == "0" then return answer_problem(P.not_found) end
  local status, visibility, owner, key = parse_record(value)
  if not status then return answer_problem(P.unavailable) end
  if visibility == "r" then
    if not grant then return answer_problem(P.missing_token) end
    if not covers(grant, id, owner) then return answer_problem(P.forbidden) end
  end
  if status == "P" or status == "M" then return answer_problem(P.not_ready) end
  if status ~= "C" or not key then return answer_problem(P.gone) end

  local url, expires_at = config.presigner:presign(key, config.ttl, now)
  if not url then return answer_problem(P.gone) end
  local max_age = expires_at - now - 60
  if max_age < 0 then max_age = 0 end
  local h = ngx.header
  ngx.status = 302
  h["Location"] = url
  h["Cache-Control"] = "private, max-age=" .. max_age
  h["Referrer-Policy"] = "no-referrer"
  h["Content-Length"] = 0
  return ngx.exit(ngx.OK)
end

-- ---------------------------------------------------------------- POST /_check/presign (cross-check with botocore)

-- Body: a JSON array of {endpoint, region, bucket, key, addressing, access_key, secret_key, token?, expires, time}
-- (Tests/Support/botocore_presign.py's input); answer: the JSON array of the peer's URLs, in order.
function _M.check_presign()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then
    local file = ngx.req.get_body_file()
    body = file and read_file(file)
  end
  local cases = body and cjson.decode(body)
  if type(cases) ~= "table" then
    ngx.status = 400
    ngx.say("expected a JSON array of cases")
    return ngx.exit(400)
  end
  local urls = {}
  for i, c in ipairs(cases) do
    local p = new_presigner {
      endpoint = c.endpoint, region = c.region, bucket = c.bucket, access_key = c.access_key,
      secret_key = c.secret_key, token = c.token ~= cjson.null and c.token or nil, addressing = c.addressing,
    }
    urls[i] = p:presign(c.key, c.expires, c.time) or cjson.null
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode(urls))
end

return _M
