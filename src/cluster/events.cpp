#include "cluster/events.hpp"

#include <utility>

#include "common/log.hpp"

namespace sig::cluster {

namespace {
// The held events of the join being applied on this thread (EventGate::Hold).
thread_local std::vector<domain::PlatformEvent>* t_held = nullptr;
// Swallowed end events kept for sessions whose end script has not answered; a script always
// answers (reply or error), so this only bounds a leak if one never did.
constexpr std::size_t kMaxKept = 10'000;

bool end_event(const domain::PlatformEvent& e) {
  return e.type == domain::EventType::session_ended || (e.type == domain::EventType::participant_left &&
                                                        e.left_reason == domain::LeftReason::session_ended);
}
}  // namespace

EventGate::Hold::Hold() : previous_(t_held) {
  t_held = &held_;
}
EventGate::Hold::~Hold() {
  t_held = previous_;
}
std::vector<domain::PlatformEvent> EventGate::Hold::take() {
  return std::exchange(held_, {});
}

void EventGate::publish(domain::PlatformEvent event) {
  const bool start = event.type == domain::EventType::session_started;
  if (start) {
    std::unique_lock lock(mu_);
    const auto v = verdicts_.find(event.session_id);
    if (v != verdicts_.end()) {
      const bool emit_it = v->second;
      verdicts_.erase(v);
      lock.unlock();
      if (emit_it) emit(std::move(event));
      return;
    }
  }
  if (start || end_event(event)) {
    std::lock_guard lock(mu_);
    auto& kept = start ? started_ : ended_;
    if (kept.size() >= kMaxKept && kept.count(event.session_id) == 0) kept.erase(kept.begin());
    kept[event.session_id].push_back(std::move(event));
    return;
  }
  if (t_held != nullptr) {
    t_held->push_back(std::move(event));
    return;
  }
  emit(std::move(event));
}

void EventGate::emit(domain::PlatformEvent event) {
  // One line per event this node emits: what an operator (and the several-node tests) can count.
  log::debug("platform event", {{"type", domain::to_string(event.type)},
                                {"session", event.session_id},
                                {"user", event.user_id},
                                {"reason", event.left_reason ? domain::to_string(*event.left_reason)
                                                             : std::string_view(event.end_reason)},
                                {"attendance", static_cast<std::uint64_t>(event.attendance.size())}});
  if (out_ != nullptr) out_->publish(std::move(event));
}

std::vector<domain::PlatformEvent> EventGate::take(Kept& from, const std::string& session_id) {
  std::lock_guard lock(mu_);
  const auto it = from.find(session_id);
  if (it == from.end()) return {};
  auto out = std::move(it->second);
  from.erase(it);
  return out;
}

std::vector<domain::PlatformEvent> EventGate::take_ended(const std::string& session_id) {
  return take(ended_, session_id);
}

void EventGate::settle_started(const std::string& session_id, bool emit_it) {
  std::vector<domain::PlatformEvent> kept;
  {
    std::lock_guard lock(mu_);
    const auto it = started_.find(session_id);
    if (it == started_.end()) {
      if (verdicts_.size() >= kMaxKept) verdicts_.erase(verdicts_.begin());
      verdicts_[session_id] = emit_it;
      return;
    }
    kept = std::move(it->second);
    started_.erase(it);
  }
  if (!emit_it) return;
  for (auto& e : kept)
    emit(std::move(e));
}

}  // namespace sig::cluster
