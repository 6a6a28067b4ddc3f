#include "cluster/deadlines.hpp"

#include <array>
#include <chrono>
#include <vector>

#include "common/log.hpp"

namespace sig::cluster {

namespace deadlines {

namespace {

std::uint32_t fnv1a(std::string_view s) {
  std::uint32_t h = 2166136261U;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619U;
  }
  return h;
}

}  // namespace

unsigned bucket_count(const Layout& layout) {
  return layout.cluster() ? kBuckets : 1U;
}

std::string key(const Layout& layout, unsigned bucket) {
  if (!layout.cluster()) return "session:deadlines";
  return "session:deadlines:{b" + std::to_string(bucket) + "}";
}

std::string key_of(const Layout& layout, std::string_view session_id) {
  return key(layout, fnv1a(session_id) % bucket_count(layout));
}

const redis::Script& due_script() {
  // The directory's dates are ISO 8601 UTC (format_iso8601); ms() turns one into epoch ms (days
  // from the civil date, H. Hinnant's algorithm). Lua numbers are doubles: exact for epoch ms.
  static const redis::Script s(R"lua(
local function ms(iso)
  if type(iso) ~= 'string' then return nil end
  local y, mo, d, h, mi, sec, frac = string.match(iso, '^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.?(%d*)Z$')
  if not y then return nil end
  y, mo = tonumber(y), tonumber(mo)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + tonumber(d) - 1
  local days = era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
  local f = 0
  if frac ~= '' then f = tonumber(string.sub(frac .. '00', 1, 3)) end
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(sec) * 1000 + f
end
local d = redis.call('HMGET', KEYS[1], 'status', 'createdAt', 'startedAt', 'durationSeconds', 'emptySince')
if not d[1] or d[1] == 'ended' then return {'', 0} end
local now = tonumber(ARGV[1])
if d[1] ~= 'started' then
  local c = ms(d[2])
  if not c then return {'', 0} end
  local due = c + tonumber(ARGV[2])
  if now >= due then return {'timeout', 0} end
  return {'', due}
end
local st = ms(d[3]) or now
local nxt = 0
local dur = tonumber(d[4] or '0') or 0
if dur > 0 then
  local due = st + dur * 1000
  if now >= due then return {'completed', 0} end
  nxt = due
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  local es = tonumber(d[5] or '')
  if not es then
    es = now
    redis.call('HSET', KEYS[1], 'emptySince', ARGV[1])
  end
  if es < st then es = st end
  local due = es + tonumber(ARGV[3])
  if now >= due then return {'timeout', 0} end
  if nxt == 0 or due < nxt then nxt = due end
elseif d[5] then
  redis.call('HDEL', KEYS[1], 'emptySince')
end
return {'', nxt}
)lua");
  return s;
}

const redis::Script& swap_script() {
  static const redis::Script s(R"lua(
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not cur or tonumber(cur) ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
return 1
)lua");
  return s;
}

}  // namespace deadlines

namespace {

// A node that claimed an entry and died: another node checks it again after this long.
constexpr std::int64_t kLeaseMs = 5000;
// Due entries read per bucket and tick: a backlog drains over the next ticks.
constexpr std::string_view kBatch = "500";

void eval(Context& ctx, const redis::Script& script, const std::vector<std::string>& keys,
          const std::vector<std::string>& args, redis::ReplyCallback cb) {
  const std::vector<std::string_view> k(keys.begin(), keys.end()), a(args.begin(), args.end());
  ctx.client->eval(script, k, a, std::move(cb));
}

}  // namespace

void Deadlines::tick() {
  const auto now = std::to_string(ctx_.now_ms());
  for (unsigned b = 0; b < deadlines::bucket_count(ctx_.layout); ++b) {
    auto key = deadlines::key(ctx_.layout, b);
    ctx_.command(
        [this, key](std::error_code ec, const redis::Reply& r) {
          if (ec || !r.is_array()) return;
          for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
            if (!r.elements[i].is_string() || !r.elements[i + 1].is_string()) continue;
            check(key, r.elements[i].str, r.elements[i + 1].str);
          }
        },
        "ZRANGEBYSCORE", key, "-inf", now, "WITHSCORES", "LIMIT", "0", kBatch);
  }
}

void Deadlines::check(const std::string& key, const std::string& session_id, const std::string& score) {
  // The claim: only the node whose compare-and-set moves the score to its lease evaluates it.
  const auto lease = std::to_string(ctx_.now_ms() + kLeaseMs);
  eval(ctx_, deadlines::swap_script(), {key}, {session_id, score, lease},
       [this, key, session_id, lease](std::error_code ec, const redis::Reply& r) {
         if (ec || !r.is_integer() || r.integer != 1) return;
         const auto start = std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.options.start_timeout);
         const auto empty = std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.options.empty_timeout);
         eval(ctx_, deadlines::due_script(), {ctx_.layout.dir(session_id), ctx_.layout.ws(session_id)},
              {std::to_string(ctx_.now_ms()), std::to_string(start.count()), std::to_string(empty.count())},
              [this, key, session_id, lease](std::error_code due_ec, const redis::Reply& due) {
                if (due_ec || !due.is_array() || due.elements.size() != 2 || !due.elements[1].is_integer())
                  return;  // the lease expires: checked again then
                const auto& reason = due.elements[0].str;
                if (!reason.empty()) {
                  // The end script decides: exactly one caller (this node, another node's sweep, or a
                  // hosting node's own timer) wins and emits session.ended. The entry stays under its
                  // lease and is removed at the next check, which finds the session ended.
                  const auto why =
                      reason == "completed" ? domain::EndReason::completed : domain::EndReason::timeout;
                  log::info("session deadline reached",
                            {{"node", ctx_.node_id()}, {"session", session_id}, {"reason", reason}});
                  writes_.ended(session_id, why, ctx_.clock.wall_now());
                  return;
                }
                const auto next = due.elements[1].integer;
                // Unless the session was touched meanwhile (the swap then fails: checked again).
                eval(ctx_, deadlines::swap_script(), {key},
                     {session_id, lease, next == 0 ? std::string() : std::to_string(next)}, ignore_reply);
              });
       });
}

}  // namespace sig::cluster
