#pragma once
#include <chrono>
#include <string>

namespace sig {

// 2026-11-24T10:15:30.123Z
std::string format_iso8601(std::chrono::system_clock::time_point t);

}  // namespace sig
