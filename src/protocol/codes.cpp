#include "protocol/codes.hpp"

#include <array>

#include "common/json_text.hpp"

namespace sig::protocol {

namespace {

constexpr std::array<ErrorInfo, kErrorCount> kErrors{{
#define SIG_ERROR_ROW(name, close, status, text) {ErrorCode::name, #name, CloseCode::close, status, text},
    SIG_ERROR_TABLE(SIG_ERROR_ROW)
#undef SIG_ERROR_ROW
}};

// The enum and the table must stay in step: each row at its own index.
constexpr bool rows_in_order() {
  for (std::size_t i = 0; i < kErrors.size(); ++i) {
    if (static_cast<std::size_t>(kErrors[i].code) != i) return false;
  }
  return true;
}
static_assert(rows_in_order());

}  // namespace

const ErrorInfo& info(ErrorCode code) noexcept {
  const auto i = static_cast<std::size_t>(code);
  return i < kErrors.size() ? kErrors[i] : kErrors[static_cast<std::size_t>(ErrorCode::internal)];
}

std::string_view to_string(ErrorCode code) noexcept {
  return info(code).name;
}

std::string_view default_message(ErrorCode code) noexcept {
  return info(code).text;
}

CloseCode close_code_for(ErrorCode code) noexcept {
  return info(code).close;
}

unsigned http_status_for(ErrorCode code) noexcept {
  const auto status = info(code).http_status;
  return status == 0 ? 400U : status;
}

std::optional<ErrorCode> from_string(std::string_view name) noexcept {
  for (const auto& e : kErrors) {
    if (e.name == name) return e.code;
  }
  return std::nullopt;
}

std::string_view close_reason(std::uint16_t code) noexcept {
  if (code == static_cast<std::uint16_t>(CloseCode::normal)) return "normal";
  for (const auto& e : kErrors) {
    if (static_cast<std::uint16_t>(e.close) == code) return e.name;
  }
  return "";
}

std::string http_error_body(ErrorCode code, std::string_view message) {
  std::string out = R"({"error":)";
  append_json_string(out, to_string(code));
  out += R"(,"message":)";
  append_json_string(out, message.empty() ? default_message(code) : message);
  out.push_back('}');
  return out;
}

}  // namespace sig::protocol
