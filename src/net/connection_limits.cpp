#include "net/connection_limits.hpp"

#include <algorithm>
#include <utility>

namespace sig::net {

namespace {

// An IPv4 client seen through an IPv6 socket is the same client.
boost::asio::ip::address normalised(const boost::asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  return a;
}

}  // namespace

std::string_view to_string(Refusal r) noexcept {
  switch (r) {
    case Refusal::max_connections: return "max_connections";
    case Refusal::per_ip: return "per_ip";
    case Refusal::pending: return "pending";
    case Refusal::none: break;
  }
  return "none";
}

std::size_t default_max_connections(std::uint64_t nofile_soft_limit) noexcept {
  const std::uint64_t capped = std::min<std::uint64_t>(nofile_soft_limit, 10'000'000);
  const std::uint64_t headroom = std::max<std::uint64_t>(256, capped / 20);
  if (capped <= headroom + 16) return 16;
  return static_cast<std::size_t>(capped - headroom);
}

ConnectionSlot::ConnectionSlot(ConnectionSlot&& other) noexcept
    : limiter_(std::move(other.limiter_)),
      ip_(std::move(other.ip_)),
      counts_ip_(other.counts_ip_),
      pending_(other.pending_) {
  other.limiter_.reset();
}

ConnectionSlot& ConnectionSlot::operator=(ConnectionSlot&& other) noexcept {
  if (this != &other) {
    release();
    limiter_ = std::move(other.limiter_);
    other.limiter_.reset();
    ip_ = other.ip_;
    counts_ip_ = other.counts_ip_;
    pending_ = other.pending_;
  }
  return *this;
}

ConnectionSlot::~ConnectionSlot() {
  release();
}

void ConnectionSlot::release() noexcept {
  if (!limiter_) return;
  limiter_->release(ip_, counts_ip_, pending_);
  limiter_.reset();
}

void ConnectionSlot::joined() {
  if (!limiter_ || !pending_) return;
  pending_ = false;
  limiter_->release_pending();
}

Refusal ConnectionSlot::attribute_to(const boost::asio::ip::address& client) {
  if (!limiter_) return Refusal::none;
  const auto to = normalised(client);
  if (counts_ip_ && to == ip_) return Refusal::none;
  const auto r = limiter_->move_ip(ip_, counts_ip_, to);
  if (r == Refusal::none) {
    ip_ = to;
    counts_ip_ = true;
  }
  return r;
}

Refusal ConnectionLimiter::try_acquire(const boost::asio::ip::address& peer, bool count_ip,
                                       ConnectionSlot& slot) {
  const auto ip = normalised(peer);
  {
    const std::lock_guard lock(mu_);
    if (open_ >= limits_.max_connections) return Refusal::max_connections;
    if (pending_ >= limits_.max_pending) return Refusal::pending;
    if (count_ip) {
      auto& n = per_ip_[ip];
      if (n >= limits_.max_per_ip) {
        if (n == 0) per_ip_.erase(ip);
        return Refusal::per_ip;
      }
      ++n;
    }
    ++open_;
    ++pending_;
  }
  slot = ConnectionSlot();
  slot.limiter_ = shared_from_this();
  slot.ip_ = ip;
  slot.counts_ip_ = count_ip;
  slot.pending_ = true;
  return Refusal::none;
}

Refusal ConnectionLimiter::move_ip(const boost::asio::ip::address& from, bool counted,
                                   const boost::asio::ip::address& to) {
  const std::lock_guard lock(mu_);
  auto& n = per_ip_[to];
  if (n >= limits_.max_per_ip) {
    if (n == 0) per_ip_.erase(to);
    return Refusal::per_ip;
  }
  ++n;
  if (counted) {
    const auto it = per_ip_.find(from);
    if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
  }
  return Refusal::none;
}

void ConnectionLimiter::release(const boost::asio::ip::address& ip, bool counts_ip, bool pending) noexcept {
  const std::lock_guard lock(mu_);
  --open_;
  if (pending) --pending_;
  if (counts_ip) {
    const auto it = per_ip_.find(ip);
    if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
  }
}

void ConnectionLimiter::release_pending() noexcept {
  const std::lock_guard lock(mu_);
  --pending_;
}

void ConnectionLimiter::count_refusal(Refusal r) noexcept {
  if (r == Refusal::none) return;
  refused_[static_cast<std::size_t>(r) - 1].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t ConnectionLimiter::refused(Refusal r) const noexcept {
  if (r == Refusal::none) return 0;
  return refused_[static_cast<std::size_t>(r) - 1].load(std::memory_order_relaxed);
}

std::size_t ConnectionLimiter::open() const {
  const std::lock_guard lock(mu_);
  return open_;
}

std::size_t ConnectionLimiter::pending() const {
  const std::lock_guard lock(mu_);
  return pending_;
}

}  // namespace sig::net
