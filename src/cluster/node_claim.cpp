#include "cluster/node_claim.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <random>
#include <utility>
#include <vector>

namespace sig::cluster {

namespace {

class ClaimCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "node-claim"; }
  std::string message(int ev) const override {
    switch (static_cast<ClaimErrc>(ev)) {
      case ClaimErrc::held_by_live_node: return "another live node holds this node id";
      case ClaimErrc::bad_reply: return "unexpected reply to the node id claim";
    }
    return "node claim error";
  }
};

// Not a secret: it only has to differ between two processes started with the same id.
std::string random_token() {
  std::random_device rd;  // /dev/urandom on Linux
  std::string out;
  out.reserve(32);
  constexpr std::array<char, 16> kHex{'0', '1', '2', '3', '4', '5', '6', '7',
                                      '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  for (int i = 0; i < 4; ++i) {
    auto v = rd();
    for (int j = 0; j < 8; ++j) {
      out.push_back(kHex[v & 0xfU]);
      v >>= 4U;
    }
  }
  return out;
}

// The token of a value `<token>:<epoch>` (the value itself when it has no epoch).
std::string_view token_of(std::string_view value) {
  const auto colon = value.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == value.size()) return value;
  const auto digits = value.substr(colon + 1);
  const bool all_digits =
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  return all_digits ? value.substr(0, colon) : value;
}

// The epoch of `<token>:<epoch>` when the token is this process's (written by its own refresh, now
// or earlier): the newest one seen is kept.
void adopt_epoch(std::atomic<std::uint64_t>& known, std::string_view token, std::string_view value) {
  const auto colon = value.rfind(':');
  if (colon == std::string_view::npos || value.substr(0, colon) != token) return;
  std::uint64_t e = 0;
  const auto digits = value.substr(colon + 1);
  const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), e);
  if (err != std::errc{} || end != digits.data() + digits.size()) return;
  auto seen = known.load();
  while (e > seen && !known.compare_exchange_weak(seen, e)) {
  }
}

}  // namespace

const std::error_category& claim_category() noexcept {
  static const ClaimCategory c;
  return c;
}

std::error_code make_error_code(ClaimErrc e) noexcept {
  return {static_cast<int>(e), claim_category()};
}

std::string_view to_string(NodeClaim::Outcome o) noexcept {
  switch (o) {
    case NodeClaim::Outcome::current: return "current";
    case NodeClaim::Outcome::expired: return "expired";
    case NodeClaim::Outcome::taken: return "taken";
    case NodeClaim::Outcome::failed: return "failed";
  }
  return "failed";
}

// The value is `<token>:<epoch>`. Every script answers {code, value}: 1 ours (renewed), 2 absent
// and written now, or ours with a newer epoch than the caller knows (value: the key's value, whose
// epoch the caller takes), 0 another token holds it (value: that value). ARGV: token, ttl, epoch.
const redis::Script& NodeClaim::claim_script() {
  // At start-up an absent key is simply claimed (code 1): nobody presumed this process dead.
  static const redis::Script s(R"lua(
local v = redis.call('GET', KEYS[1])
if v and string.match(v, '^(.*):%d+$') ~= ARGV[1] then return {0, v} end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[3], 'PX', ARGV[2])
return {1, ''}
)lua");
  return s;
}

// A newer epoch of this token: a refresh whose reply was lost wrote it; an older one: a write lost
// in a failover (the replica lagged), written again with the next epoch like an absent key (else
// every later refresh would find it older again).
const redis::Script& NodeClaim::refresh_script() {
  static const redis::Script s(R"lua(
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] .. ':' .. ARGV[3] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, ''}
end
if v then
  local t, e = string.match(v, '^(.*):(%d+)$')
  if t ~= ARGV[1] then return {0, v} end
  if tonumber(e) > tonumber(ARGV[3]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {2, v}
  end
end
v = ARGV[1] .. ':' .. (tonumber(ARGV[3]) + 1)
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return {2, v}
)lua");
  return s;
}

const redis::Script& NodeClaim::release_script() {
  static const redis::Script s(R"lua(
local v = redis.call('GET', KEYS[1])
if v and string.match(v, '^(.*):%d+$') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {1, ''}
end
return {0, v or ''}
)lua");
  return s;
}

NodeClaim::NodeClaim(EvalFn eval, std::string alive_key, std::chrono::milliseconds ttl)
    : eval_(std::move(eval)), key_(std::move(alive_key)), ttl_(ttl), token_(random_token()) {}

void NodeClaim::claim(Done done) {
  run(claim_script(), std::move(done));
}

void NodeClaim::refresh(Done done) {
  run(refresh_script(), std::move(done));
}

void NodeClaim::release(Done done) {
  run(release_script(), std::move(done));
}

void NodeClaim::run(const redis::Script& script, Done done) {
  const std::string ttl = std::to_string(ttl_.count());
  const std::string epoch = std::to_string(epoch_->load());
  const std::vector<std::string_view> keys{key_};
  const std::vector<std::string_view> args{token_, ttl, epoch};
  eval_(script, keys, args,
        [done = std::move(done), known = epoch_, token = token_](std::error_code ec,
                                                                 const redis::Reply& reply) {
          if (!ec && reply.is_array() && reply.elements.size() == 2 && reply.elements[0].is_integer() &&
              reply.elements[0].integer == 2) {
            adopt_epoch(*known, token, reply.elements[1].str);
          }
          if (!done) return;
          Result r;
          if (ec) {
            r.error = ec;
            done(r);
            return;
          }
          if (!reply.is_array() || reply.elements.size() != 2 || !reply.elements[0].is_integer()) {
            r.error = make_error_code(ClaimErrc::bad_reply);
            done(r);
            return;
          }
          switch (reply.elements[0].integer) {
            case 1: r.outcome = Outcome::current; break;
            case 2: r.outcome = Outcome::expired; break;
            case 0:
              r.outcome = Outcome::taken;
              r.holder = std::string(token_of(reply.elements[1].str));
              r.error = make_error_code(ClaimErrc::held_by_live_node);
              break;
            default: r.error = make_error_code(ClaimErrc::bad_reply); break;
          }
          done(r);
        });
}

}  // namespace sig::cluster
