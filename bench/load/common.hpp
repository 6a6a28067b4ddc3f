#pragma once
// Shared pieces of the load tool: the clock, a log-bucket latency histogram (HdrHistogram-like,
// about 1.6 % precision, mergeable across threads and processes) and small string helpers.

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace load {

// CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the machine, so a send
// timestamp written by one process can be compared with the receive time in another.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Values in nanoseconds. Exact below 128, then 64 sub-buckets per power of two.
class Histogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = 2 * kSub + (63 - kSubBits) * kSub;

  Histogram() : counts_(static_cast<std::size_t>(kBuckets), 0) {}

  static int index_of(std::uint64_t v) {
    if (v < 2 * kSub) return static_cast<int>(v);
    const int msb = 63 - std::countl_zero(v);
    const auto sub = static_cast<int>(v >> (msb - kSubBits)) - kSub;
    return 2 * kSub + (msb - kSubBits - 1) * kSub + sub;
  }
  // The middle of the bucket's range.
  static std::uint64_t value_of(int idx) {
    if (idx < 2 * kSub) return static_cast<std::uint64_t>(idx);
    const int e = (idx - 2 * kSub) / kSub + kSubBits + 1;
    const int sub = (idx - 2 * kSub) % kSub;
    const std::uint64_t low = static_cast<std::uint64_t>(kSub + sub) << (e - kSubBits);
    const std::uint64_t width = std::uint64_t{1} << (e - kSubBits);
    return low + width / 2;
  }

  void record(std::int64_t value) {
    const std::uint64_t v = value < 0 ? 0 : static_cast<std::uint64_t>(value);
    ++counts_[static_cast<std::size_t>(index_of(v))];
    ++count_;
    max_ = std::max(max_, v);
    sum_ += static_cast<double>(v);
  }
  void merge(const Histogram& o) {
    for (std::size_t i = 0; i < counts_.size(); ++i)
      counts_[i] += o.counts_[i];
    count_ += o.count_;
    max_ = std::max(max_, o.max_);
    sum_ += o.sum_;
  }
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  // q in [0, 1]; 0 when empty.
  std::uint64_t percentile(double q) const {
    if (count_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.999999);
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(value_of(static_cast<int>(i)), max_);
    }
    return max_;
  }

  nlohmann::json to_json() const {
    nlohmann::json buckets = nlohmann::json::array();
    for (std::size_t i = 0; i < counts_.size(); ++i)
      if (counts_[i]) buckets.push_back({i, counts_[i]});
    return {{"n", count_}, {"max", max_}, {"sum", sum_}, {"b", buckets}};
  }
  static Histogram from_json(const nlohmann::json& j) {
    Histogram h;
    h.count_ = j.at("n").get<std::uint64_t>();
    h.max_ = j.at("max").get<std::uint64_t>();
    h.sum_ = j.at("sum").get<double>();
    for (const auto& b : j.at("b")) {
      const auto i = b.at(0).get<std::size_t>();
      if (i < h.counts_.size()) h.counts_[i] += b.at(1).get<std::uint64_t>();
    }
    return h;
  }
  // Percentiles in microseconds, for reports.
  nlohmann::json summary_us() const {
    auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
    return {{"count", count_},
            {"mean_us", us(static_cast<std::uint64_t>(mean()))},
            {"p50_us", us(percentile(0.5))},
            {"p90_us", us(percentile(0.9))},
            {"p99_us", us(percentile(0.99))},
            {"p999_us", us(percentile(0.999))},
            {"max_us", us(max_)}};
  }

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
  double sum_ = 0;
};

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string str() const { return host + ":" + std::to_string(port); }
};

}  // namespace load
