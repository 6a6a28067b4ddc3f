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

namespace {
// A local departure the leave script decides (not the end's session_ended, swallowed above).
bool local_left(const domain::PlatformEvent& e) {
  return e.type == domain::EventType::participant_left && !e.connection_id.empty();
}
}  // namespace

void EventGate::publish(domain::PlatformEvent event) {
  std::lock_guard lock(mu_);
  if (event.type == domain::EventType::session_started) {
    const auto v = started_early_.find(event.session_id);
    if (v == started_early_.end()) {
      keep_locked(std::move(event));
    } else {
      const bool emit_it = v->second;
      started_early_.erase(v);
      if (emit_it) pass_locked(std::move(event));
    }
    return;
  }
  if (end_event(event)) {
    if (ended_.size() >= kMaxKept && ended_.count(event.session_id) == 0) ended_.erase(ended_.begin());
    ended_[event.session_id].push_back(std::move(event));
    return;
  }
  if (t_held != nullptr) {
    t_held->push_back(std::move(event));
    return;
  }
  if (local_left(event)) {
    const auto v = left_early_.find(event.connection_id);
    if (v == left_early_.end()) {
      keep_locked(std::move(event));
    } else {
      const bool emit_it = v->second;
      left_early_.erase(v);
      if (emit_it) pass_locked(std::move(event));
    }
    return;
  }
  pass_locked(std::move(event));
}

void EventGate::emit(domain::PlatformEvent event) {
  std::lock_guard lock(mu_);
  pass_locked(std::move(event));
}

void EventGate::emit_locked(domain::PlatformEvent event) {
  // One line per event this node emits: what an operator (and the several-node tests) can count.
  log::debug("platform event", {{"type", domain::to_string(event.type)},
                                {"session", event.session_id},
                                {"user", event.user_id},
                                {"reason", event.left_reason ? domain::to_string(*event.left_reason)
                                                             : std::string_view(event.end_reason)},
                                {"attendance", static_cast<std::uint64_t>(event.attendance.size())}});
  // Under the gate's lock: the order of a session is the order the sink sees (it only queues).
  if (out_ != nullptr) out_->publish(std::move(event));
}

void EventGate::pass_locked(domain::PlatformEvent event) {
  const auto it = held_.find(event.session_id);
  if (it == held_.end()) {
    emit_locked(std::move(event));
    return;
  }
  it->second.push_back({std::move(event), Item::State::ready});
}

void EventGate::keep_locked(domain::PlatformEvent event) {
  if (held_.size() >= kMaxKept && held_.count(event.session_id) == 0) {
    // Never expected (every script answers): release the oldest session's queue rather than grow.
    const std::string oldest = held_.begin()->first;
    flush_all_locked(oldest);
  }
  auto& queue = held_[event.session_id];
  queue.push_back({std::move(event), Item::State::waiting});
}

void EventGate::flush_all_locked(const std::string& session_id) {
  const auto it = held_.find(session_id);
  if (it == held_.end()) return;
  auto queue = std::move(it->second);
  held_.erase(it);
  for (auto& item : queue) {
    if (item.state != Item::State::dropped) emit_locked(std::move(item.event));
  }
}

void EventGate::flush_locked(const std::string& session_id) {
  const auto it = held_.find(session_id);
  if (it == held_.end()) return;
  auto& queue = it->second;
  while (!queue.empty() && queue.front().state != Item::State::waiting) {
    auto item = std::move(queue.front());
    queue.pop_front();
    if (item.state == Item::State::ready) emit_locked(std::move(item.event));
  }
  if (queue.empty()) held_.erase(it);
}

template <class Match>
void EventGate::settle_locked(const std::string& session_id, Match match, Verdicts& early,
                              const std::string& key, bool emit_it) {
  const auto it = held_.find(session_id);
  if (it != held_.end()) {
    for (auto& item : it->second) {
      if (item.state == Item::State::waiting && match(item.event)) {
        item.state = emit_it ? Item::State::ready : Item::State::dropped;
        flush_locked(session_id);
        return;
      }
    }
  }
  if (early.size() >= kMaxKept) early.erase(early.begin());
  early[key] = emit_it;
}

std::vector<domain::PlatformEvent> EventGate::take_ended(const std::string& session_id) {
  std::lock_guard lock(mu_);
  const auto it = ended_.find(session_id);
  if (it == ended_.end()) return {};
  auto out = std::move(it->second);
  ended_.erase(it);
  return out;
}

void EventGate::settle_started(const std::string& session_id, bool emit_it) {
  std::lock_guard lock(mu_);
  settle_locked(
      session_id, [](const domain::PlatformEvent& e) { return e.type == domain::EventType::session_started; },
      started_early_, session_id, emit_it);
}

void EventGate::settle_left(const std::string& session_id, const std::string& connection_id, bool emit_it) {
  std::lock_guard lock(mu_);
  settle_locked(
      session_id,
      [&](const domain::PlatformEvent& e) { return local_left(e) && e.connection_id == connection_id; },
      left_early_, connection_id, emit_it);
}

}  // namespace sig::cluster
