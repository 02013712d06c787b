"""Lua scripts: each runs atomically in Redis. Key names are built as in redis_keys.Keys (ARGV[1] is the base)."""

from __future__ import annotations

_PRELUDE = """
local base = ARGV[1]
local function k(...) return base .. table.concat({...}, ':') end
-- A key's version comes from one counter, so a key whose version is deleted (purged) never repeats one.
local function bump(ck) redis.call('SET', k('keyv', ck), redis.call('INCR', k('seq', 'keyv'))) end
"""

# ARGV[2]: the decision as JSON (see RedisStore._payload). Checks every version the decision read; on any
# difference nothing is written and the caller loads again and decides again (optimistic concurrency).
COMMIT = (
    _PRELUDE
    + """
local p = cjson.decode(ARGV[2])
-- A commit sent again (redis-py retrying after a lost reply) that already ran answers as it did; one whose
-- caller settled it as never stored (FENCE) stays unstored, so each decision lands once or not at all.
if redis.call('EXISTS', k('decided', p.token)) == 1 then return {'ok'} end
if redis.call('EXISTS', k('fenced', p.token)) == 1 then return {'fenced'} end
-- An incident locked by a decision that lost too many races for it is left to that decision for a moment.
local function held(id)
  local holder = redis.call('GET', k('lock', id))
  return holder and holder ~= p.token
end
for _, i in ipairs(p.incidents) do
  if held(i.id) then return {'conflict', 'locked ' .. i.id} end
end
for id, _ in pairs(p.checks.incidents) do
  if held(id) then return {'conflict', 'locked ' .. id} end
end
for fp, v in pairs(p.checks.alerts) do
  if tonumber(redis.call('HGET', k('alert', fp), 'v') or '0') ~= v then return {'conflict', 'alert ' .. fp} end
end
for id, v in pairs(p.checks.incidents) do
  if tonumber(redis.call('HGET', k('incident', id), 'v') or '0') ~= v then return {'conflict', 'incident ' .. id} end
end
for ck, v in pairs(p.checks.keys) do
  if tonumber(redis.call('GET', k('keyv', ck)) or '0') ~= v then return {'conflict', 'key ' .. ck} end
end
for _, id in ipairs(p.checks.new_incidents) do
  if redis.call('EXISTS', k('incident', id)) == 1 then return {'conflict', 'incident exists ' .. id} end
end
for _, id in ipairs(p.checks.webhooks) do
  if redis.call('EXISTS', k('webhook', id)) == 1 then return {'conflict', 'webhook ' .. id} end
end

for _, a in ipairs(p.alerts) do
  local key = k('alert', a.fp)
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZADD', k('alerts'), redis.call('INCR', k('seq', 'alerts')), a.fp)
  end
  redis.call('HSET', key, 'v', a.v, 'd', a.d)
  local changed
  if a.orphan then
    changed = redis.call('SADD', k('orphans', a.ck), a.fp)
    redis.call('SADD', k('unplaced'), a.fp)
  else
    changed = redis.call('SREM', k('orphans', a.ck), a.fp)
    redis.call('SREM', k('unplaced'), a.fp)
  end
  if changed == 1 then bump(a.ck) end
  -- firing:<incident> holds the incident's firing alerts (what a resolve ends and a page names).
  if a.was then redis.call('SREM', k('firing', a.was), a.fp) end
  if a.firing_in then redis.call('SADD', k('firing', a.firing_in), a.fp) end
  if a.ended then redis.call('ZADD', k('alerts', 'resolved'), a.ended, a.fp)
  else redis.call('ZREM', k('alerts', 'resolved'), a.fp) end
end

for _, i in ipairs(p.incidents) do
  local key = k('incident', i.id)
  local seq = redis.call('ZSCORE', k('incidents'), i.id)
  if not seq then
    seq = redis.call('INCR', k('seq', 'incidents'))
    redis.call('ZADD', k('incidents'), seq, i.id)
  end
  redis.call('HSET', key, 'v', i.v, 'd', i.d)
  if i.resolved then
    redis.call('ZREM', k('incidents', 'open'), i.id)
    redis.call('ZADD', k('incidents', 'resolved'), i.resolved, i.id)
  else
    redis.call('ZADD', k('incidents', 'open'), seq, i.id)
    redis.call('ZREM', k('incidents', 'resolved'), i.id)
  end
end

for ck, id in pairs(p.pointers) do
  redis.call('SET', k('key', ck), id)
  bump(ck)
end
for _, m in ipairs(p.members) do redis.call('SADD', k('members', m[1]), m[2]) end
for _, e in ipairs(p.timeline) do redis.call('RPUSH', k('timeline', e[1]), e[2]) end

for _, t in ipairs(p.timers_cancelled) do
  redis.call('ZREM', k('timers'), t[1])
  redis.call('DEL', k('timer', t[1]))
  redis.call('SREM', k('itimers', t[2]), t[1])
end
for _, t in ipairs(p.timers_set) do
  redis.call('ZADD', k('timers'), t.due, t.key)
  redis.call('SET', k('timer', t.key), t.d)
  redis.call('SADD', k('itimers', t.iid), t.key)
end

for _, n in ipairs(p.notifications) do
  -- The idempotency key: a step already queued (by any replica, any retry) is not queued again.
  if redis.call('SET', k('nkey', n.key), '1', 'NX', 'EX', p.nkey_ttl) then
    redis.call('HSET', k('note', n.key), 'd', n.d, 'a', 0, 'i', n.iid)
    redis.call('ZADD', k('outbox'), n.at, n.key)
    redis.call('SADD', k('inotes', n.iid), n.key)
    -- The incident's order: a later entry is claimed only once this one is recorded (CLAIM_NOTIFICATIONS).
    redis.call('ZADD', k('iorder', n.iid), redis.call('INCR', k('seq', 'outbox')), n.key)
  end
end
for _, id in ipairs(p.webhooks) do redis.call('SET', k('webhook', id), '1', 'EX', p.webhook_ttl) end
for _, x in ipairs(p.silences) do
  redis.call('HSET', k('silences'), x[1], x[2])
  redis.call('ZADD', k('silences', 'ends'), x[3], x[1])
end
for _, id in ipairs(p.locks) do
  if redis.call('GET', k('lock', id)) == p.token then redis.call('DEL', k('lock', id)) end
end
redis.call('SET', k('decided', p.token), '1', 'PX', p.settle_ms)
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
