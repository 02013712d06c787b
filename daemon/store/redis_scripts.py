"""Lua scripts: each runs atomically in Redis. Key names are built as in redis_keys.Keys (ARGV[1] is the base)."""

from __future__ import annotations

_PRELUDE = """
local base = ARGV[1]
local function k(...) return base .. table.concat({...}, ':') end
-- A key's version comes from one counter, so a key whose version is deleted (purged) never repeats one.
local function bump(ck) redis.call('SET', k('keyv', ck), redis.call('INCR', k('seq', 'keyv'))) end
-- The listing index (see Keys.incidents_where): move incident ``id`` to ``value`` of ``field``.
local function index(id, field, value, seq)
  local by = k('incidents', 'by', field)
  local old = redis.call('HGET', by, id)
  if old == value then return end
  if old then redis.call('ZREM', k('incidents', field, old), id) end
  redis.call('ZADD', k('incidents', field, value), seq, id)
  redis.call('HSET', by, id, value)
end
local function unindex(id)
  for _, field in ipairs({'state', 'severity', 'service'}) do
    local by = k('incidents', 'by', field)
    local old = redis.call('HGET', by, id)
    if old then redis.call('ZREM', k('incidents', field, old), id) end
    redis.call('HDEL', by, id)
  end
end
"""

# ARGV[2..]: the decision, flat (see RedisStore._payload): counted sections of plain strings, so that nothing is
# decoded in Lua (cjson on the alerts' JSON cost more than the writes). Checks every version the decision read; on
# any difference nothing is written and the caller loads again and decides again (optimistic concurrency).
COMMIT = (
    _PRELUDE
    + """
local at = 1
local function nxt() at = at + 1; return ARGV[at] end
local function count() return tonumber(nxt()) end
local token, settle_ms, nkey_ttl, webhook_ttl = nxt(), nxt(), nxt(), nxt()
-- A commit sent again (redis-py retrying after a lost reply) that already ran answers as it did; one whose
-- caller settled it as never stored (FENCE) stays unstored, so each decision lands once or not at all.
if redis.call('EXISTS', k('decided', token)) == 1 then return {'ok'} end
if redis.call('EXISTS', k('fenced', token)) == 1 then return {'fenced'} end
local locks = {}
for i = 1, count() do locks[i] = nxt() end
local check_alerts, check_incidents, check_keys, check_webhooks, new_incidents = {}, {}, {}, {}, {}
for i = 1, count() do check_alerts[i] = {nxt(), tonumber(nxt())} end
for i = 1, count() do check_incidents[i] = {nxt(), tonumber(nxt())} end
for i = 1, count() do check_keys[i] = {nxt(), tonumber(nxt())} end
for i = 1, count() do check_webhooks[i] = nxt() end
for i = 1, count() do new_incidents[i] = nxt() end
local alerts, incidents = {}, {}
-- Per alert: ``old`` is what the stored alert was when read (its version is checked below, so it still is):
-- '' none, 'o' firing in no incident, 'f' firing in ``was``, 'r' resolved. The sets that follow from it are touched
-- only where they change, and a new alert's order comes from one INCRBY for all of them.
-- The alerts' small fields come in one JSON array (one argument, not eight: redis-py packs each argument in
-- Python), each alert's document after it, left as it is.
local fresh = 0
local n_alerts = count()
local meta = n_alerts > 0 and cjson.decode(nxt()) or {}
for i = 1, n_alerts do
  local m = meta[i]
  alerts[i] = {fp = m[1], v = m[2], d = nxt(), ck = m[3], orphan = m[4] == 1, was = m[5], firing_in = m[6],
               ended = m[7], old = m[8]}
  if alerts[i].old == '' then fresh = fresh + 1 end
end
for i = 1, count() do
  incidents[i] = {id = nxt(), v = nxt(), d = nxt(), resolved = nxt(), state = nxt(), severity = nxt(), service = nxt()}
end
-- An incident locked by a decision that lost too many races for it is left to that decision for a moment.
local function held(id)
  local holder = redis.call('GET', k('lock', id))
  return holder and holder ~= token
end
for _, i in ipairs(incidents) do
  if held(i.id) then return {'conflict', 'locked ' .. i.id} end
end
for _, c in ipairs(check_incidents) do
  if held(c[1]) then return {'conflict', 'locked ' .. c[1]} end
end
for _, c in ipairs(check_alerts) do
  if tonumber(redis.call('HGET', base .. 'alert:' .. c[1], 'v') or '0') ~= c[2] then
    return {'conflict', 'alert ' .. c[1]}
  end
end
for _, c in ipairs(check_incidents) do
  if tonumber(redis.call('HGET', k('incident', c[1]), 'v') or '0') ~= c[2] then
    return {'conflict', 'incident ' .. c[1]}
  end
end
for _, c in ipairs(check_keys) do
  if tonumber(redis.call('GET', k('keyv', c[1])) or '0') ~= c[2] then return {'conflict', 'key ' .. c[1]} end
end
for _, id in ipairs(new_incidents) do
  if redis.call('EXISTS', k('incident', id)) == 1 then return {'conflict', 'incident exists ' .. id} end
end
for _, id in ipairs(check_webhooks) do
  if redis.call('EXISTS', k('webhook', id)) == 1 then return {'conflict', 'webhook ' .. id} end
end

local order = 0
-- Key names built inline in the loops below: k()'s vararg table costs more than the command it names.
local all_alerts = k('alerts')
if fresh > 0 then order = redis.call('INCRBY', k('seq', 'alerts'), fresh) - fresh end
for _, a in ipairs(alerts) do
  if a.old == '' then
    order = order + 1
    redis.call('ZADD', all_alerts, order, a.fp)
  end
  redis.call('HSET', base .. 'alert:' .. a.fp, 'v', a.v, 'd', a.d)
  -- orphans:<key> and unplaced hold exactly the firing alerts in no incident.
  if a.orphan and a.old ~= 'o' then
    redis.call('SADD', k('orphans', a.ck), a.fp)
    redis.call('SADD', k('unplaced'), a.fp)
    bump(a.ck)
  elseif a.old == 'o' and not a.orphan then
    redis.call('SREM', k('orphans', a.ck), a.fp)
    redis.call('SREM', k('unplaced'), a.fp)
    bump(a.ck)
  end
  -- firing:<incident> holds the incident's firing alerts (what a resolve ends and a page names).
  local stays = a.old == 'f' and a.was == a.firing_in
  if a.old == 'f' and not stays then redis.call('SREM', k('firing', a.was), a.fp) end
  if a.firing_in ~= '' and not stays then redis.call('SADD', base .. 'firing:' .. a.firing_in, a.fp) end
  if a.ended ~= '' then redis.call('ZADD', k('alerts', 'resolved'), a.ended, a.fp)
  elseif a.old == 'r' then redis.call('ZREM', k('alerts', 'resolved'), a.fp) end
end

for _, i in ipairs(incidents) do
  local key = k('incident', i.id)
  local seq = redis.call('ZSCORE', k('incidents'), i.id)
  if not seq then
    seq = redis.call('INCR', k('seq', 'incidents'))
    redis.call('ZADD', k('incidents'), seq, i.id)
  end
  redis.call('HSET', key, 'v', i.v, 'd', i.d)
  if i.resolved ~= '' then
    redis.call('ZREM', k('incidents', 'open'), i.id)
    redis.call('ZADD', k('incidents', 'resolved'), i.resolved, i.id)
  else
    redis.call('ZADD', k('incidents', 'open'), seq, i.id)
    redis.call('ZREM', k('incidents', 'resolved'), i.id)
  end
  index(i.id, 'state', i.state, seq)
  index(i.id, 'severity', i.severity, seq)
  index(i.id, 'service', i.service, seq)
end

for _ = 1, count() do
  local ck, id = nxt(), nxt()
  redis.call('SET', k('key', ck), id)
  bump(ck)
end
for _ = 1, count() do
  local id, fp = nxt(), nxt()
  redis.call('SADD', base .. 'members:' .. id, fp)
end
for _ = 1, count() do
  local id, entry = nxt(), nxt()
  redis.call('RPUSH', base .. 'timeline:' .. id, entry)
end

for _ = 1, count() do
  local key, iid = nxt(), nxt()
  redis.call('ZREM', k('timers'), key)
  redis.call('DEL', k('timer', key))
  redis.call('SREM', k('itimers', iid), key)
end
for _ = 1, count() do
  local key, due, d, iid = nxt(), nxt(), nxt(), nxt()
  redis.call('ZADD', k('timers'), due, key)
  redis.call('SET', k('timer', key), d)
  redis.call('SADD', k('itimers', iid), key)
end

for _ = 1, count() do
  local key, d, created, iid = nxt(), nxt(), nxt(), nxt()
  -- The idempotency key: a step already queued (by any replica, any retry) is not queued again.
  if redis.call('SET', k('nkey', key), '1', 'NX', 'EX', nkey_ttl) then
    redis.call('HSET', k('note', key), 'd', d, 'a', 0, 'i', iid)
    redis.call('ZADD', k('outbox'), created, key)
    redis.call('SADD', k('inotes', iid), key)
    -- The incident's order: a later entry is claimed only once this one is recorded (CLAIM_NOTIFICATIONS).
    redis.call('ZADD', k('iorder', iid), redis.call('INCR', k('seq', 'outbox')), key)
  end
end
for _ = 1, count() do redis.call('SET', k('webhook', nxt()), '1', 'EX', webhook_ttl) end
for _ = 1, count() do
  local id, d, ends = nxt(), nxt(), nxt()
  redis.call('HSET', k('silences'), id, d)
  redis.call('ZADD', k('silences', 'ends'), ends, id)
end
for _, id in ipairs(locks) do
  if redis.call('GET', k('lock', id)) == token then redis.call('DEL', k('lock', id)) end
end
redis.call('SET', k('decided', token), '1', 'PX', settle_ms)
return {'ok'}
"""
)

# ARGV[2] a decision's token, ARGV[3] how long to remember it (ms). Settles a commit whose reply was lost: 1 if it
# ran; else 0, and it never will (a copy still in flight, say in a paused server's buffer, is refused).
FENCE = (
    _PRELUDE
    + """
if redis.call('EXISTS', k('decided', ARGV[2])) == 1 then return 1 end
redis.call('SET', k('fenced', ARGV[2]), '1', 'PX', tonumber(ARGV[3]))
return 0
"""
)

# ARGV[2] now, ARGV[3] lease end, ARGV[4] limit, ARGV[5] the claim's token, ARGV[6] the lease in ms. Returns key,
# data pairs. What the token already holds comes first (a repeated claim after a lost reply returns it, re-held);
# tclaim:<token> remembers each timer's lease end, so a timer a decision has since moved is not taken as held.
CLAIM_TIMERS = (
    _PRELUDE
    + """
local now, till, limit, token = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local claims = k('tclaim', token)
local out, n = {}, 0
local function take(key, d)
  redis.call('ZADD', k('timers'), till, key)
  redis.call('HSET', claims, key, till)
  table.insert(out, key)
  table.insert(out, d)
  n = n + 1
end
local flat = redis.call('HGETALL', claims)
for i = 1, #flat, 2 do
  local key, held = flat[i], flat[i + 1]
  local score = redis.call('ZSCORE', k('timers'), key)
  local d = redis.call('GET', k('timer', key))
  if score and d and tonumber(score) == tonumber(held) then take(key, d) else redis.call('HDEL', claims, key) end
end
if n < limit then
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', k('timers'), '-inf', now, 'LIMIT', 0, limit - n)) do
    local d = redis.call('GET', k('timer', key))
    if d then take(key, d) else redis.call('ZREM', k('timers'), key) end
  end
end
redis.call('PEXPIRE', claims, ARGV[6])
return out
"""
)

# ARGV[2] now, ARGV[3] token, then timer keys: claimed by the token and not fired, due again now.
RELEASE_TIMERS = (
    _PRELUDE
    + """
local claims = k('tclaim', ARGV[3])
for i = 4, #ARGV do
  local held = redis.call('HGET', claims, ARGV[i])
  local score = redis.call('ZSCORE', k('timers'), ARGV[i])
  if held and score and tonumber(score) == tonumber(held) then redis.call('ZADD', k('timers'), ARGV[2], ARGV[i]) end
  redis.call('HDEL', claims, ARGV[i])
end
return 1
"""
)

# As CLAIM_TIMERS for the outbox; returns key, data, attempts triples. A claim counts no attempt. An entry is
# taken only when every earlier entry of its incident (iorder:<incident>) is recorded or taken by this claim.
CLAIM_NOTIFICATIONS = (
    _PRELUDE
    + """
local now, till, limit, token = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local claims = k('nclaim', token)
local out, taken, n = {}, {}, 0
local function take(key)
  local note = k('note', key)
  redis.call('ZADD', k('outbox'), till, key)
  redis.call('HSET', note, 'c', token)
  redis.call('SADD', claims, key)
  taken[key] = true
  n = n + 1
  table.insert(out, key)
  table.insert(out, redis.call('HGET', note, 'd') or '')
  table.insert(out, redis.call('HGET', note, 'a') or '0')
end
for _, key in ipairs(redis.call('SMEMBERS', claims)) do
  if redis.call('HGET', k('note', key), 'c') == token then take(key) else redis.call('SREM', claims, key) end
end
local function first_in_line(key)
  local iid = redis.call('HGET', k('note', key), 'i')
  if not iid then return true end  -- queued by an older tocsin: no order recorded
  for _, other in ipairs(redis.call('ZRANGE', k('iorder', iid), 0, -1)) do
    if other == key then return true end
    if redis.call('EXISTS', k('note', other)) == 0 then
      redis.call('ZREM', k('iorder', iid), other)  -- gone some other way: it holds up nothing
    elseif not taken[other] then
      return false
    end
  end
  return true
end
local due = {}
if n < limit then due = redis.call('ZRANGEBYSCORE', k('outbox'), '-inf', now, 'LIMIT', 0, limit * 4) end
local progressed = true
while progressed and n < limit do
  progressed = false
  for _, key in ipairs(due) do
    if n >= limit then break end
    if not taken[key] then
      if redis.call('EXISTS', k('note', key)) == 0 then
        redis.call('ZREM', k('outbox'), key)
      elseif first_in_line(key) then
        take(key)
        progressed = true
      end
    end
  end
end
redis.call('PEXPIRE', claims, ARGV[6])
return out
"""
)

# ARGV[2] until, then key, token pairs: extend each claim still held; returns the keys still held.
HOLD_NOTIFICATIONS = (
    _PRELUDE
    + """
local kept = {}
for i = 3, #ARGV, 2 do
  if redis.call('HGET', k('note', ARGV[i]), 'c') == ARGV[i + 1] then
    redis.call('ZADD', k('outbox'), 'XX', ARGV[2], ARGV[i])
    table.insert(kept, ARGV[i])
  end
end
return kept
"""
)

# ARGV[2] key, ARGV[3] token, ARGV[4] until: a send begins; count it. Nil when the claim is no longer this one.
START_NOTIFICATION = (
    _PRELUDE
    + """
local note = k('note', ARGV[2])
if redis.call('HGET', note, 'c') ~= ARGV[3] then return false end
redis.call('ZADD', k('outbox'), 'XX', ARGV[4], ARGV[2])
return redis.call('HINCRBY', note, 'a', 1)
"""
)

# ARGV[2] now, then key, token pairs: claims that will not start, due again now.
RELEASE_NOTIFICATIONS = (
    _PRELUDE
    + """
for i = 3, #ARGV, 2 do
  local note = k('note', ARGV[i])
  if redis.call('HGET', note, 'c') == ARGV[i + 1] then
    redis.call('HDEL', note, 'c')
    redis.call('ZADD', k('outbox'), 'XX', ARGV[2], ARGV[i])
  end
end
return 1
"""
)

# ARGV[2] key, ARGV[3] incident id, then timeline entries: the notification is done. Once only: a repeated
# record (a retry after a lost reply, or a second holder) adds no second set of timeline lines.
RECORD_DELIVERY = (
    _PRELUDE
    + """
local note = k('note', ARGV[2])
if redis.call('EXISTS', note) == 0 then
  redis.call('ZREM', k('outbox'), ARGV[2])
  return 0
end
local iid = redis.call('HGET', note, 'i') or ARGV[3]
redis.call('ZREM', k('outbox'), ARGV[2])
redis.call('DEL', note)
redis.call('SREM', k('inotes', iid), ARGV[2])
redis.call('ZREM', k('iorder', iid), ARGV[2])
for i = 4, #ARGV do redis.call('RPUSH', k('timeline', ARGV[3]), ARGV[i]) end
return 1
"""
)

# ARGV[2] queue (timers or outbox), ARGV[3] key, ARGV[4] reason: a row that cannot be read leaves its queue and is
# kept in aside:<queue> (its data) and aside:<queue>:why (the reason).
SET_ASIDE = (
    _PRELUDE
    + """
local queue, key = ARGV[2], ARGV[3]
local d
if queue == 'timers' then
  d = redis.call('GET', k('timer', key))
  redis.call('ZREM', k('timers'), key)
  redis.call('DEL', k('timer', key))
  local iid = string.match(key, '^([^/]+)/')
  if iid then redis.call('SREM', k('itimers', iid), key) end
else
  local note = k('note', key)
  d = redis.call('HGET', note, 'd')
  local iid = redis.call('HGET', note, 'i')
  redis.call('ZREM', k('outbox'), key)
  redis.call('DEL', note)
  if iid then
    redis.call('SREM', k('inotes', iid), key)
    redis.call('ZREM', k('iorder', iid), key)
  end
end
redis.call('HSET', k('aside', queue), key, d or '')
redis.call('HSET', k('aside', queue, 'why'), key, ARGV[4])
return 1
"""
)

# ARGV[2] incident id, ARGV[3] token, ARGV[4] milliseconds: lock an incident for a decision that keeps losing.
LOCK = (
    _PRELUDE
    + """
local held = redis.call('GET', k('lock', ARGV[2]))
if held and held ~= ARGV[3] then return 0 end
redis.call('SET', k('lock', ARGV[2]), ARGV[3], 'PX', ARGV[4])
return 1
"""
)

# ARGV[2] token, then incident ids: release what a decision locked and did not commit.
UNLOCK = (
    _PRELUDE
    + """
for i = 3, #ARGV do
  if redis.call('GET', k('lock', ARGV[i])) == ARGV[2] then redis.call('DEL', k('lock', ARGV[i])) end
end
return 1
"""
)

# ARGV[2] incident id, ARGV[3] cutoff. Forgets the incident if it is still resolved before the cutoff, with its
# timeline, timers, queued notifications and the alerts whose last incident it was and that are not firing.
PURGE_INCIDENT = (
    _PRELUDE
    + """
local id = ARGV[2]
local at = redis.call('ZSCORE', k('incidents', 'resolved'), id)
if not at or tonumber(at) >= tonumber(ARGV[3]) then return 0 end
for _, fp in ipairs(redis.call('SMEMBERS', k('members', id))) do
  local d = redis.call('HGET', k('alert', fp), 'd')
  if d then
    local a = cjson.decode(d)
    if a.incident_id == id and a.status == 'resolved' then
      redis.call('DEL', k('alert', fp))
      redis.call('ZREM', k('alerts'), fp)
      redis.call('ZREM', k('alerts', 'resolved'), fp)
    end
  end
end
for _, t in ipairs(redis.call('SMEMBERS', k('itimers', id))) do
  redis.call('ZREM', k('timers'), t)
  redis.call('DEL', k('timer', t))
end
for _, n in ipairs(redis.call('SMEMBERS', k('inotes', id))) do
  redis.call('ZREM', k('outbox'), n)
  redis.call('DEL', k('note', n))
end
local d = cjson.decode(redis.call('HGET', k('incident', id), 'd'))
local ck = d.correlation_key
if redis.call('GET', k('key', ck)) == id then
  redis.call('DEL', k('key', ck))
  -- Nothing left under the key: forget its version too (versions never repeat, see bump).
  if redis.call('SCARD', k('orphans', ck)) == 0 then redis.call('DEL', k('keyv', ck)) else bump(ck) end
end
redis.call('DEL', k('incident', id), k('timeline', id), k('members', id), k('itimers', id), k('firing', id),
           k('inotes', id), k('iorder', id))
redis.call('ZREM', k('incidents'), id)
redis.call('ZREM', k('incidents', 'open'), id)
redis.call('ZREM', k('incidents', 'resolved'), id)
unindex(id)
return 1
"""
)

# ARGV[2] fingerprint, ARGV[3] cutoff. Forgets an alert resolved before the cutoff that belongs to no kept incident.
PURGE_ALERT = (
    _PRELUDE
    + """
local fp = ARGV[2]
local at = redis.call('ZSCORE', k('alerts', 'resolved'), fp)
if not at or tonumber(at) >= tonumber(ARGV[3]) then return 0 end
local d = redis.call('HGET', k('alert', fp), 'd')
if d then
  local a = cjson.decode(d)
  if a.status ~= 'resolved' then return 0 end
  if a.incident_id ~= cjson.null and redis.call('EXISTS', k('incident', a.incident_id)) == 1 then return 0 end
end
redis.call('DEL', k('alert', fp))
redis.call('ZREM', k('alerts'), fp)
redis.call('ZREM', k('alerts', 'resolved'), fp)
return 1
"""
)

# ARGV[2..]: fingerprints. Their alerts' versions (false where absent), in one command for the fast path.
VERSIONS = (
    _PRELUDE
    + """
local out = {}
for i = 2, #ARGV do out[i - 1] = redis.call('HGET', k('alert', ARGV[i]), 'v') end
return out
"""
)

# What most decisions read first, in one call (redis-py's cost per command and per round trip is what shows in a
# storm): ARGV[2..] counted sections of fingerprints, correlation keys, incident ids and schedules, then the time
# from which silences may hold an alert ('' for none). Returns {alert v, d pairs; per key its version, pointer and
# the pointed incident's v, d; incident v, d pairs; per schedule its overrides; {the data of the silences ending
# after the time, HLEN of the silences, ZCARD of their ends}}.
# Flagged no-writes (Redis 7), so that a write pause (CLIENT PAUSE WRITE, a failover) holds a decision at its commit,
# as plain reads did, not at its first read.
PREFETCH = (
    "#!lua flags=no-writes\n"
    + _PRELUDE
    + """
local at = 1
local function nxt() at = at + 1; return ARGV[at] end
local function count() return tonumber(nxt()) end
local alerts, keys, incidents, overrides = {}, {}, {}, {}
for _ = 1, count() do
  local row = redis.call('HMGET', base .. 'alert:' .. nxt(), 'v', 'd')
  table.insert(alerts, row[1])
  table.insert(alerts, row[2])
end
for _ = 1, count() do
  local ck = nxt()
  local pointer = redis.call('GET', k('key', ck))
  table.insert(keys, redis.call('GET', k('keyv', ck)))
  table.insert(keys, pointer)
  local row = {false, false}
  if pointer then row = redis.call('HMGET', k('incident', pointer), 'v', 'd') end
  table.insert(keys, row[1])
  table.insert(keys, row[2])
end
for _ = 1, count() do
  local row = redis.call('HMGET', k('incident', nxt()), 'v', 'd')
  table.insert(incidents, row[1])
  table.insert(incidents, row[2])
end
for _ = 1, count() do table.insert(overrides, redis.call('HVALS', k('overrides', nxt()))) end
local silences = {}
local from = nxt()
if from ~= '' then
  local ids = redis.call('ZRANGEBYSCORE', k('silences', 'ends'), '(' .. from, '+inf')
  local data = {}
  for i, id in ipairs(ids) do data[i] = redis.call('HGET', k('silences'), id) end
  silences = {data, redis.call('HLEN', k('silences')), redis.call('ZCARD', k('silences', 'ends'))}
end
return {alerts, keys, incidents, overrides, silences}
"""
)

# ARGV[2] the kind ('alert' or 'incident'), ARGV[3..] ids: each one's v, d (false, false where absent). One command
# per chunk instead of one HMGET each: redis-py's cost is per command, on the event loop.
ROWS = (
    "#!lua flags=no-writes\n"
    + _PRELUDE
    + """
local out = {}
for i = 3, #ARGV do
  local row = redis.call('HMGET', base .. ARGV[2] .. ':' .. ARGV[i], 'v', 'd')
  table.insert(out, row[1])
  table.insert(out, row[2])
end
return out
"""
)

# ARGV[2..]: id, version, state, severity, service of incidents stored before the listing index existed (read and
# decoded by the caller). Each is indexed unless a commit has indexed it since. Returns {how many were indexed, the
# ids changed since they were read (to read again)}.
INDEX_INCIDENTS = (
    _PRELUDE
    + """
local n, moved = 0, {}
for i = 2, #ARGV, 5 do
  local id = ARGV[i]
  local seq = redis.call('ZSCORE', k('incidents'), id)
  if seq and redis.call('HEXISTS', k('incidents', 'by', 'state'), id) == 0 then
    if redis.call('HGET', k('incident', id), 'v') == ARGV[i + 1] then
      index(id, 'state', ARGV[i + 2], seq)
      index(id, 'severity', ARGV[i + 3], seq)
      index(id, 'service', ARGV[i + 4], seq)
      n = n + 1
    else
      table.insert(moved, id)
    end
  end
end
return {n, moved}
"""
)
