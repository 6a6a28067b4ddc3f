#pragma once
// Session deadlines kept in Redis (docs/deployment.md, "Deadlines"). A node keeps a session only
// while it hosts local participants (mirror.hpp), so the domain's timers (--start-timeout,
// --empty-timeout, the session's duration) do not run for a session nobody hosts. The scripts that
// change a session's next deadline (put, start, leave) are followed by a "touch": the session id
// goes into a sorted set of deadlines with score now (due at once). Every node, at each tick, reads
// the due entries (ZRANGEBYSCORE -inf now, one command per bucket: flat in the number of
// sessions), claims each with a compare-and-set of its score (a lease), runs the due script on the
// session's keys (which computes the true next deadline from the directory entry and whether
// session:ws is empty), ends the session through the end script when it is due (exactly one
// caller wins and emits session.ended), and puts back the next deadline (or removes the entry)
// unless it was touched meanwhile.
#include <cstdint>
#include <string>
#include <string_view>

#include "cluster/context.hpp"
#include "cluster/keys.hpp"
#include "cluster/writes.hpp"
#include "redis/client.hpp"

namespace sig::cluster {

namespace deadlines {

// One sorted set with --redis; with --redis-cluster kBuckets hash-tagged sets (one global set would
// sit in one slot), the session in bucket fnv1a(id) mod kBuckets.
inline constexpr unsigned kBuckets = 16;
unsigned bucket_count(const Layout& layout);
std::string key(const Layout& layout, unsigned bucket);
std::string key_of(const Layout& layout, std::string_view session_id);

// KEYS: dir, ws. ARGV: now ms, start timeout ms, empty timeout ms. Returns {reason or '', next
// deadline ms (0: none)}. Records the start of an empty period (emptySince in the directory entry)
// when it first sees a started session's ws empty, and forgets it when ws is not.
const redis::Script& due_script();
// KEYS: bucket. ARGV: session id, expected score, new score ('' removes). 1 when swapped.
const redis::Script& swap_script();

}  // namespace deadlines

class Deadlines {
 public:
  Deadlines(Context& ctx, Writes& writes) : ctx_(ctx), writes_(writes) {}
  // On the strand, from the node's tick: one ZRANGEBYSCORE per bucket, then the due entries.
  void tick();

 private:
  void check(const std::string& key, const std::string& session_id, const std::string& score);

  Context& ctx_;
  Writes& writes_;
};

}  // namespace sig::cluster
