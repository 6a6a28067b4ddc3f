#include "app/reload.hpp"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <utility>

#include "common/log.hpp"

namespace sig::app {

namespace {

std::optional<Config> parse_args(const std::vector<std::string>& args, std::string& error,
                                 std::map<std::string, std::string>& values) {
  std::vector<std::string> copy = args;  // CLI11 takes char**; it does not keep them
  std::vector<char*> argv;
  argv.reserve(copy.size() + 1);
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  return try_parse_config(static_cast<int>(copy.size()), argv.data(), error, &values);
}

}  // namespace

std::vector<OptionChange> diff_options(const std::map<std::string, std::string>& before,
                                       const std::map<std::string, std::string>& after,
                                       const std::set<std::string>& live) {
  std::vector<OptionChange> out;
  auto add = [&](const std::string& name) { out.push_back({name, live.contains(name)}); };
  for (const auto& [name, value] : after) {
    const auto it = before.find(name);
    if (it == before.end() || it->second != value) add(name);
  }
  for (const auto& [name, value] : before) {
    if (!after.contains(name)) add(name);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.option < b.option; });
  return out;
}

Reloader::Reloader(std::vector<std::string> args, Config current)
    : args_(std::move(args)), current_(std::move(current)) {
  std::string error;
  if (!args_.empty() && !parse_args(args_, error, values_))
    values_.clear();  // parsed at start-up: cannot fail
}

void Reloader::add_hook(std::vector<std::string> options, Hook hook) {
  live_.insert(options.begin(), options.end());
  hooks_.push_back(std::move(hook));
}

bool Reloader::reload() {
  log::info("signal", {{"signal", "SIGHUP"}, {"action", "reload"}});
  std::string error;
  std::map<std::string, std::string> values;
  auto next = parse_args(args_, error, values);
  if (!next) {
    log::error("reload refused: the configuration does not parse; nothing changed", {{"error", error}});
    return false;
  }
  for (std::size_t i = 0; i < hooks_.size(); ++i) {
    try {
      hooks_[i](current_, *next);
    } catch (const std::exception& e) {
      log::error(i == 0 ? "reload refused; nothing changed" : "reload: a part was not applied",
                 {{"error", e.what()}});
      if (i == 0) return false;
    }
  }
  std::size_t applied = 0, restart = 0;
  for (const auto& change : diff_options(values_, values, live_)) {
    if (change.applied) {
      ++applied;
      log::info("reload: option changed, applied", {{"option", "--" + change.option}});
    } else {
      ++restart;
      log::warn("reload: option changed, needs a restart to apply", {{"option", "--" + change.option}});
    }
  }
  log::info("reloaded", {{"applied", static_cast<std::uint64_t>(applied)},
                         {"needs_restart", static_cast<std::uint64_t>(restart)}});
  // The options that need a restart keep their old values in what the hooks see next time, so
  // a change not yet applied is reported again and not taken as in force.
  for (const auto& change : diff_options(values_, values, live_)) {
    if (!change.applied) {
      const auto it = values_.find(change.option);
      if (it == values_.end()) {
        values.erase(change.option);
      } else {
        values[change.option] = it->second;
      }
    }
  }
  values_ = std::move(values);
  current_ = std::move(*next);
  return true;
}

}  // namespace sig::app
