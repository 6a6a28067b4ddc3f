#pragma once
// A node's claim on its --node-id in Redis (docs/deployment.md, "signaling:node:{nodeId}:alive").
//
// The alive key holds `<token>:<epoch>`: the token is random per process, the epoch counts the
// times the key was written again after it had expired. The node claims its id at start-up (the
// key is set only where it is absent or already this process's), so a second process started
// with a live node's id learns it and refuses to start, instead of sharing connection ids and
// removing the first one's entries. Every refresh is a compare-and-set on the token and the epoch
// (a small script): a node whose key expired meanwhile (it was frozen, or Redis lost its data) or
// was taken over by another process learns which, and the Fence (fence.hpp) acts on it.
//
// Why the epoch: a refresh whose reply is lost (a frozen node wakes up past the Redis client's
// reply timeout and drops the link) may have written the expired key again. Without the epoch the
// next refresh would find the token in place and answer "current": the node would never learn that
// the others had presumed it dead, and would release what it held. With it, that refresh finds a
// newer epoch than the node knows, and answers "expired".
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "redis/client.hpp"

namespace sig::cluster {

// How the cluster layer runs a script (the Redis client of the node, whatever its mode).
using EvalFn = std::function<void(const redis::Script& script, std::span<const std::string_view> keys,
                                  std::span<const std::string_view> args, redis::ReplyCallback cb)>;

enum class ClaimErrc {
  held_by_live_node = 1,  // another process holds this node id (its alive key is live)
  bad_reply,              // Redis answered something the scripts never return
};
const std::error_category& claim_category() noexcept;
std::error_code make_error_code(ClaimErrc e) noexcept;

class NodeClaim {
 public:
  // What a claim or a refresh found.
  enum class Outcome {
    current,  // the key held this process's token and epoch (or was absent at a claim): TTL renewed
    expired,  // the key was gone: written again with this token (the others may have presumed us
              // dead), now or by an earlier refresh whose reply was lost (a newer epoch)
    taken,    // another token holds the key: another process uses this node id
    failed,   // no answer (the link dropped, Redis refused): nothing known
  };
  struct Result {
    Outcome outcome = Outcome::failed;
    std::string holder;  // Outcome::taken: the other process's token
    std::error_code error;
  };
  using Done = std::function<void(const Result&)>;

  NodeClaim(EvalFn eval, std::string alive_key, std::chrono::milliseconds ttl);

  // Random per process (and per NodeClaim): 32 hex digits.
  const std::string& token() const noexcept { return token_; }
  const std::string& key() const noexcept { return key_; }
  std::chrono::milliseconds ttl() const noexcept { return ttl_; }
  // The epoch this process last saw in its key (0 at the claim).
  std::uint64_t epoch() const noexcept { return epoch_->load(); }

  // Sets the key to this token where it is absent or already ours (current), else taken.
  void claim(Done done);
  // Compare-and-set: renews the TTL while the key is ours (current), writes it again where it is
  // absent (expired), leaves another process's token alone (taken).
  void refresh(Done done);
  // Deletes the key if it is still ours (a stopping node never deletes another process's claim).
  void release(Done done = {});

  // The scripts, for preloading on every connection and for the tests.
  static const redis::Script& claim_script();
  static const redis::Script& refresh_script();
  static const redis::Script& release_script();

 private:
  void run(const redis::Script& script, Done done);

  EvalFn eval_;
  std::string key_;
  std::chrono::milliseconds ttl_;
  std::string token_;
  // Shared with the replies in flight (they may come after a NodeClaim is gone, as errors).
  std::shared_ptr<std::atomic<std::uint64_t>> epoch_ = std::make_shared<std::atomic<std::uint64_t>>(0);
};

std::string_view to_string(NodeClaim::Outcome o) noexcept;

}  // namespace sig::cluster

template <>
struct std::is_error_code_enum<sig::cluster::ClaimErrc> : std::true_type {};
