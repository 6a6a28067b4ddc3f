// The registered claims of a verified token (see auth/claims.hpp).

#include "auth/claims.hpp"

#include <cmath>
#include <limits>
#include <string_view>

namespace sig::auth::detail {

namespace {

// Saturating a - b for the time arithmetic (tokens carry arbitrary numbers).
std::int64_t sat_sub(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) {
    return b < 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return r;
}
std::int64_t sat_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return r;
}

// A JSON number claim: either an integer or a double.
struct NumericDate {
  bool is_integer = true;
  std::int64_t integer = 0;
  double real = 0;
};

bool read_numeric_date(simdjson::dom::element el, NumericDate& out) noexcept {
  switch (el.type()) {
    case simdjson::dom::element_type::INT64:
      out.is_integer = true;
      return el.get_int64().get(out.integer) == simdjson::SUCCESS;
    case simdjson::dom::element_type::UINT64:  // beyond INT64_MAX: the far future
      out.is_integer = true;
      out.integer = std::numeric_limits<std::int64_t>::max();
      return true;
    case simdjson::dom::element_type::DOUBLE:
      out.is_integer = false;
      return el.get_double().get(out.real) == simdjson::SUCCESS && std::isfinite(out.real);
    default: return false;
  }
}

// date < now - leeway  (for exp: expired when now >= exp + leeway, i.e. exp <= now - leeway)
bool date_at_or_before(const NumericDate& date, std::int64_t limit) noexcept {
  if (date.is_integer) return date.integer <= limit;
  return date.real <= static_cast<double>(limit);
}
bool date_after(const NumericDate& date, std::int64_t limit) noexcept {
  if (date.is_integer) return date.integer > limit;
  return date.real > static_cast<double>(limit);
}

std::int64_t to_unix_seconds(const NumericDate& date) noexcept {
  if (date.is_integer) return date.integer;
  if (date.real >= 9.2e18) return std::numeric_limits<std::int64_t>::max();
  if (date.real <= -9.2e18) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(std::floor(date.real));
}

}  // namespace

JwtError check_claims(simdjson::dom::object payload, std::int64_t now, const VerifierOptions& options,
                      Claims& out) {
  using simdjson::dom::element;
  // Find the claims we use; a duplicate of one of them is ambiguous, hence malformed.
  element exp, nbf, iss, aud, sub, name;
  bool has_exp = false, has_nbf = false, has_iss = false, has_aud = false, has_sub = false, has_name = false;
  bool duplicate = false;
  const auto take = [&duplicate](bool& has, element& slot, element value) {
    duplicate |= has;
    has = true;
    slot = value;
  };
  const std::string_view name_claim = options.name_claim;
  for (const simdjson::dom::key_value_pair field : payload) {
    const std::string_view key = field.key;
    if (key.size() == 3) {
      if (key == "exp") {
        take(has_exp, exp, field.value);
      } else if (key == "nbf") {
        take(has_nbf, nbf, field.value);
      } else if (key == "iss") {
        take(has_iss, iss, field.value);
      } else if (key == "aud") {
        take(has_aud, aud, field.value);
      } else if (key == "sub") {
        take(has_sub, sub, field.value);
      }
    }
    if (key == name_claim) take(has_name, name, field.value);
  }
  if (duplicate) return JwtError::malformed;

  const std::int64_t leeway = options.leeway.count();

  // exp: required number; expired when now >= exp + leeway.
  NumericDate exp_date;
  if (!has_exp || !read_numeric_date(exp, exp_date)) return JwtError::expired;
  if (date_at_or_before(exp_date, sat_sub(now, leeway))) return JwtError::expired;

  // nbf: optional; refused when nbf > now + leeway (or not a number).
  if (has_nbf) {
    NumericDate nbf_date;
    if (!read_numeric_date(nbf, nbf_date)) return JwtError::not_yet_valid;
    if (date_after(nbf_date, sat_add(now, leeway))) return JwtError::not_yet_valid;
  }

  if (options.issuer) {
    std::string_view value;
    if (!has_iss || iss.get(value) != simdjson::SUCCESS || value != *options.issuer)
      return JwtError::bad_issuer;
  }

  if (options.audience) {
    bool match = false;
    std::string_view value;
    simdjson::dom::array list;
    if (!has_aud) {
      match = false;
    } else if (aud.get(value) == simdjson::SUCCESS) {
      match = value == *options.audience;
    } else if (aud.get(list) == simdjson::SUCCESS) {
      for (const element item : list) {
        if (item.get(value) != simdjson::SUCCESS) return JwtError::bad_audience;  // not a string
        if (value == *options.audience) match = true;
      }
    }
    if (!match) return JwtError::bad_audience;
  }

  std::string_view subject;
  if (!has_sub || sub.get(subject) != simdjson::SUCCESS || subject.empty()) return JwtError::missing_subject;

  std::string_view display_name;
  if (has_name && name.get(display_name) != simdjson::SUCCESS) display_name = {};

  out.subject.assign(subject);
  out.display_name.assign(display_name);
  out.expires_at = to_unix_seconds(exp_date);
  return JwtError::ok;
}

}  // namespace sig::auth::detail
