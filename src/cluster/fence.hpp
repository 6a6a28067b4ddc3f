#pragma once
// Fencing: a node that may have been presumed dead says nothing until Redis confirms it is not.
//
// The other nodes declare a node dead when its alive key has expired (node_claim.hpp). A node
// knows a lower bound of its key's life: a refresh sent at T and answered "current" keeps the key
// until at least T + --node-ttl. Past that (the node was frozen, its refreshes went unanswered) it
// may have been presumed dead: the others may have told its participants' peers that they left.
// What it would relay or announce then (messages a client sent while it was frozen, buffered by
// the kernel) is held, and a refresh is sent at once. Its verdict (NodeClaim::Outcome) goes to
// the node, which either confirms the fence (the held messages go out, in order) or drops them
// (the node was presumed dead, or another process took its id) and reopens it once its state is
// written again.
//
// The epoch: it changes whenever what is held is dropped and whenever the fence reopens after a
// drop (drop(), reopen(), shut()). A caller reads it before it decides to relay (before the
// domain checks that the sender is still connected); an action submitted with an epoch that is no
// longer current is dropped. Without it, a frame that passed the domain's check just before the
// node closed its connections (presumed dead) could reach the fence after the reopen and go out:
// a ghost of a participant the others were told had left.
//
// submit(), open() and epoch() may be called from any thread; everything else runs on the node's
// strand.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

#include "cluster/node_claim.hpp"
#include "domain/clock.hpp"
#include "redis/client.hpp"

namespace sig::cluster {

class Fence {
 public:
  using Action = std::function<void()>;
  // Every refresh's result (the periodic ones and those a held action starts), with its send time.
  using Verdict = std::function<void(const NodeClaim::Result&, domain::SteadyTime sent)>;

  // Held actions beyond this are dropped (counted): a frozen node's backlog is bounded.
  static constexpr std::size_t kMaxHeld = 10'000;
  // And by size (the bytes each submit() declares: a relayed frame may be 64 KiB, so the count
  // alone would let ~655 MB wait): beyond it the oldest are dropped (counted, logged once per
  // backlog), since a late message is worth less than a recent one.
  static constexpr std::size_t kMaxHeldBytes = std::size_t{16} << 20U;

  Fence(NodeClaim& claim, const domain::Clock& clock, redis::Strand strand);

  void on_verdict(Verdict v) { verdict_ = std::move(v); }

  // Read by a caller before it decides to relay (see above); kAnyEpoch: whatever is current.
  static constexpr std::uint64_t kAnyEpoch = ~std::uint64_t{0};
  std::uint64_t epoch() const noexcept { return epoch_.load(); }

  // Any thread: runs `action` now when the fence is open and nothing is held, else holds it
  // (behind what is held already: the order of one connection's messages is kept); drops it when
  // `epoch` is no longer current. `bytes`: what the action keeps alive while held (its frame), for
  // kMaxHeldBytes.
  void submit(Action action, std::size_t bytes = 0, std::uint64_t epoch = kAnyEpoch);
  // True while a refresh confirmed less than --node-ttl minus a margin ago, nothing is held and
  // no verdict is pending.
  bool open() const noexcept;

  // Strand: sends a refresh now (the periodic one); its result goes to the verdict callback.
  void refresh();
  // Strand: the claim was current at `sent`: the fence opens until sent + ttl - margin; what is
  // held goes out, in order.
  void confirm(domain::SteadyTime sent);
  // Strand: what is held is dropped (returns how many); the fence stays shut until reopen().
  std::size_t drop();
  // Strand: the node's state is written again (it was presumed dead): what was held while shut is
  // dropped too (frames its clients sent while it was frozen, read after the verdict), then the
  // fence opens as confirm() does.
  void reopen(domain::SteadyTime sent);
  // Strand: shut (another process holds the id) until reopen().
  void shut();

  std::size_t held() const noexcept { return held_.size(); }
  std::size_t held_bytes() const noexcept { return held_bytes_; }
  std::uint64_t dropped_total() const noexcept { return dropped_total_.load(); }

 private:
  struct Held {
    Action action;
    std::size_t bytes = 0;
    std::uint64_t epoch = 0;
  };
  bool stale(std::uint64_t epoch) const noexcept { return epoch != kAnyEpoch && epoch != epoch_.load(); }
  void hold(Held h);
  void clear();
  void verify();
  void release();

  NodeClaim& claim_;
  const domain::Clock& clock_;
  redis::Strand strand_;
  Verdict verdict_;
  std::chrono::milliseconds window_;  // ttl minus a third: a refresh answered late still counts

  // Any thread:
  std::atomic<domain::SteadyTime::rep> open_until_{domain::SteadyTime::min().time_since_epoch().count()};
  std::atomic<bool> holding_{false};  // set before an action is posted to be held; cleared on release
  std::atomic<bool> shut_{false};
  std::atomic<std::uint64_t> epoch_{0};
  std::atomic<std::uint64_t> dropped_total_{0};

  // Strand:
  std::deque<Held> held_;
  std::size_t held_bytes_ = 0;
  bool over_logged_ = false;  // the byte bound was hit in this backlog (logged once)
  bool verifying_ = false;
};

}  // namespace sig::cluster
