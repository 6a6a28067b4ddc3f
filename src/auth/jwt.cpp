// JWT (compact JWS) verification and signing on OpenSSL 3, JSON through simdjson (DOM parser).
// The parts live beside this file: base64url.*, alg.hpp (the algorithm names), openssl.* (key
// loading and the binding of a key to its algorithm), hmac.*, es256.* (signature encodings, low
// S) and claims.* (exp, nbf, iss, aud, sub).
//
// Hot path (Verifier::verify) notes:
//  - Decoded parts and the JSON parser live in a per-thread scratch area, so a verification
//    does not allocate once a thread has warmed up (RS256/ES256 allocate inside OpenSSL).
//  - HMAC uses digest contexts pre-keyed at configuration time with the inner and outer pads
//    (what HMAC_Init does), copied into a per-thread context for each verification.
//  - Every failing OpenSSL call's error queue is cleared before returning: the queue is per
//    thread and a stale entry would be picked up by the next TLS operation of that thread.

#include "auth/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "auth/alg.hpp"
#include "auth/base64url.hpp"
#include "auth/claims.hpp"
#include "auth/es256.hpp"
#include "auth/hmac.hpp"
#include "auth/key_entry.hpp"
#include "auth/key_set.hpp"
#include "auth/openssl.hpp"

namespace sig::auth {

// ---------------------------------------------------------------------------------------------
// Errors

std::string_view to_string(JwtError e) noexcept {
  switch (e) {
    case JwtError::ok: return "ok";
    case JwtError::malformed: return "malformed";
    case JwtError::unsupported_alg: return "unsupported_alg";
    case JwtError::bad_signature: return "bad_signature";
    case JwtError::expired: return "expired";
    case JwtError::not_yet_valid: return "not_yet_valid";
    case JwtError::bad_issuer: return "bad_issuer";
    case JwtError::bad_audience: return "bad_audience";
    case JwtError::missing_subject: return "missing_subject";
    case JwtError::unknown_kid: return "unknown_kid";
  }
  return "unknown";
}

namespace {

class JwtCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "jwt"; }
  std::string message(int value) const override {
    switch (static_cast<JwtError>(value)) {
      case JwtError::ok: return "ok";
      case JwtError::malformed: return "malformed token";
      case JwtError::unsupported_alg: return "unsupported or unconfigured algorithm";
      case JwtError::bad_signature: return "bad signature";
      case JwtError::expired: return "token expired or without a valid exp";
      case JwtError::not_yet_valid: return "token not yet valid (nbf)";
      case JwtError::bad_issuer: return "wrong issuer";
      case JwtError::bad_audience: return "wrong audience";
      case JwtError::missing_subject: return "missing or empty subject";
      case JwtError::unknown_kid: return "unknown key id (kid)";
    }
    return "unknown jwt error";
  }
};

}  // namespace

const std::error_category& jwt_category() noexcept {
  static const JwtCategory category;
  return category;
}

std::error_code make_error_code(JwtError e) noexcept {
  return {static_cast<int>(e), jwt_category()};
}

using detail::Alg;
using detail::EvpMdCtxPtr;
using detail::EvpMdPtr;
using detail::EvpPkeyPtr;
using detail::kEs256CoordSize;
using detail::kEs256SigSize;

// ---------------------------------------------------------------------------------------------
// Per-thread scratch for verify()

namespace {

struct Scratch {
  std::string header;   // decoded header + SIMDJSON_PADDING
  std::string payload;  // decoded payload + SIMDJSON_PADDING
  std::string sig;      // decoded signature
  simdjson::dom::parser parser;
  EvpMdCtxPtr hmac_ctx{EVP_MD_CTX_new()};
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Decodes into buf (grown as needed, with the JSON parser's padding after the data).
bool decode_part(std::string_view in, std::string& buf, std::size_t& len) {
  const std::size_t need = detail::b64_decoded_size(in.size()) + simdjson::SIMDJSON_PADDING;
  if (buf.size() < need) buf.resize(need);
  return detail::b64url_decode_to(in, buf.data(), len);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Verifier

struct Verifier::Impl {
  VerifierOptions options;
  // Read by every verifying thread, replaced whole by set_keys. A mutex around the pointer copy
  // (a reference count increment: tens of nanoseconds, next to a microsecond for HS256 and tens
  // for RS256) rather than std::atomic<std::shared_ptr>: libstdc++ 12's releases its lock with a
  // relaxed store after the read, a race ThreadSanitizer reports (and the model allows).
  mutable std::mutex keys_mutex;
  std::shared_ptr<const KeySet> keys_ptr = std::make_shared<const KeySet>();

  std::shared_ptr<const KeySet> keys() const {
    const std::lock_guard lock(keys_mutex);
    return keys_ptr;
  }
  void store(std::shared_ptr<const KeySet> next) {
    const std::lock_guard lock(keys_mutex);
    keys_ptr.swap(next);  // the old set is freed outside the lock, in next's destructor
  }
  std::function<void(std::string_view)> on_unknown_kid;
  EvpMdPtr sha256 = detail::fetch_md("SHA256");

  explicit Impl(VerifierOptions o) : options(std::move(o)) {}

  // Whether key verifies sig over input for alg (which the key accepts).
  bool check(const detail::KeyEntry& key, Alg alg, std::string_view input, std::string_view sig,
             EVP_MD_CTX* hmac_ctx) const;
  JwtError verify(std::string_view token, std::int64_t now, Claims& out) const;
};

bool Verifier::Impl::check(const detail::KeyEntry& key, Alg alg, std::string_view input, std::string_view sig,
                           EVP_MD_CTX* hmac_ctx) const {
  if (detail::is_hmac(alg)) return key.hmac.verify(alg, input, sig, hmac_ctx);
  if (alg == Alg::RS256) {
    return detail::verify_signature(key.pkey.get(), sha256.get(), input,
                                    reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
  }
  // ES256: the raw R || S, in its low-S form unless a high S is refused, to DER.
  if (sig.size() != kEs256SigSize) return false;
  std::array<unsigned char, kEs256SigSize> raw{};
  std::memcpy(raw.data(), sig.data(), raw.size());
  if (detail::es256_high_s(raw.data())) {
    if (options.es256_require_low_s) return false;
    detail::to_low_s(raw.data() + kEs256CoordSize);
  }
  unsigned char der[80];
  const std::size_t der_len = detail::es256_raw_to_der(raw.data(), der, sizeof der);
  if (der_len == 0) {
    ERR_clear_error();
    return false;
  }
  return detail::verify_signature(key.pkey.get(), sha256.get(), input, der, der_len);
}

JwtError Verifier::Impl::verify(std::string_view token, std::int64_t now, Claims& out) const {
  // 1. Structure: exactly three base64url parts.
  if (token.empty() || token.size() > options.max_token_length) return JwtError::malformed;
  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return JwtError::malformed;
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return JwtError::malformed;
  }
  const std::string_view header64 = token.substr(0, dot1);
  const std::string_view payload64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view sig64 = token.substr(dot2 + 1);

  Scratch& s = scratch();
  std::size_t header_len = 0, payload_len = 0, sig_len = 0;
  if (!decode_part(header64, s.header, header_len) || !decode_part(payload64, s.payload, payload_len) ||
      !decode_part(sig64, s.sig, sig_len)) {
    return JwtError::malformed;
  }

  // 2. Header: a JSON object with a string alg (once), an optional string kid (once), and no
  // crit extension we cannot honour. The kid points into the parser's buffer: used before the
  // payload is parsed.
  Alg alg = Alg::unknown;
  std::optional<std::string_view> kid;
  {
    simdjson::dom::object header;
    if (s.parser.parse(s.header.data(), header_len, false).get(header) != simdjson::SUCCESS) {
      return JwtError::malformed;
    }
    bool have_alg = false;
    std::string_view alg_name_sv;
    for (const simdjson::dom::key_value_pair field : header) {
      if (field.key == "alg") {
        if (have_alg || field.value.get(alg_name_sv) != simdjson::SUCCESS) return JwtError::malformed;
        have_alg = true;
      } else if (field.key == "kid") {
        std::string_view text;
        if (kid || field.value.get(text) != simdjson::SUCCESS) return JwtError::malformed;
        kid = text;
      } else if (field.key == "crit") {
        return JwtError::malformed;  // RFC 7515 4.1.11: we understand no extension
      }
    }
    if (!have_alg) return JwtError::malformed;
    alg = detail::parse_alg(alg_name_sv);
  }
  if (alg == Alg::unknown) return JwtError::unsupported_alg;

  // 3. The kid, then the alg, select the keys (see the class comment); one must verify.
  const std::shared_ptr<const KeySet> set = keys();
  const auto& entries = set->entries();
  bool any_unnamed = false;
  for (const auto& e : entries)
    any_unnamed = any_unnamed || e->kid.empty();
  const std::string_view signing_input = token.substr(0, dot2);
  const std::string_view sig(s.sig.data(), sig_len);
  std::size_t tried = 0;
  bool verified = false;
  // Tries the keys `pick` selects that accept the alg, at most `limit` of them.
  const auto try_keys = [&](auto pick, std::size_t limit) {
    for (const auto& e : entries) {
      if (!pick(*e) || !e->accepts(alg)) continue;
      if (tried == limit) return;
      ++tried;
      if (check(*e, alg, signing_input, sig, s.hmac_ctx.get())) {
        verified = true;
        return;
      }
    }
  };
  const auto unnamed = [](const detail::KeyEntry& e) { return e.kid.empty(); };
  if (kid) {
    const bool kid_known =
        std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return e->kid == *kid; });
    if (kid_known) {
      try_keys([&](const detail::KeyEntry& e) { return e.kid == *kid; }, entries.size());
    } else {
      if (on_unknown_kid) on_unknown_kid(*kid);
      // Identity providers put a kid in every token; a key configured without one
      // (--jwt-public-key, a plain --jwt-secret) still verifies them, as before key sets: only
      // when every key has a kid is an unknown kid refused.
      if (!any_unnamed) return JwtError::unknown_kid;
      try_keys(unnamed, kMaxKidlessCandidates);
    }
  } else if (any_unnamed) {
    try_keys(unnamed, kMaxKidlessCandidates);
  } else {
    try_keys([](const detail::KeyEntry&) { return true; }, kMaxKidlessCandidates);
  }
  if (tried == 0) return JwtError::unsupported_alg;
  if (!verified) return JwtError::bad_signature;

  // 4. Payload: a JSON object; then the claims.
  simdjson::dom::object payload;
  if (s.parser.parse(s.payload.data(), payload_len, false).get(payload) != simdjson::SUCCESS) {
    return JwtError::malformed;
  }
  return detail::check_claims(payload, now, options, out);
}

Verifier::Verifier(VerifierOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Verifier::~Verifier() = default;
Verifier::Verifier(Verifier&&) noexcept = default;
Verifier& Verifier::operator=(Verifier&&) noexcept = default;

void Verifier::set_hmac_secret(std::string secret) {
  if (!impl_) impl_ = std::make_unique<Impl>(VerifierOptions{});
  KeySet next = *impl_->keys();
  next.remove_unnamed(Algorithm::HS256);
  if (!secret.empty()) next.add_hmac_secret({}, std::move(secret));
  impl_->store(std::make_shared<const KeySet>(std::move(next)));
}

void Verifier::set_public_key_pem(std::string_view pem) {
  if (!impl_) impl_ = std::make_unique<Impl>(VerifierOptions{});
  KeySet key;
  key.add_public_key_pem({}, pem);  // throws on a bad key: nothing changes
  KeySet next = *impl_->keys();
  next.remove_unnamed(key.entries().front()->family == Alg::RS256 ? Algorithm::RS256 : Algorithm::ES256);
  next.add_all(key);
  impl_->store(std::make_shared<const KeySet>(std::move(next)));
}

void Verifier::set_keys(const KeySet& keys) {
  if (!impl_) impl_ = std::make_unique<Impl>(VerifierOptions{});
  impl_->store(std::make_shared<const KeySet>(keys));
}

std::shared_ptr<const KeySet> Verifier::keys() const {
  if (!impl_) return std::make_shared<const KeySet>();
  return impl_->keys();
}

bool Verifier::has_keys() const {
  return impl_ && !impl_->keys()->empty();
}

void Verifier::set_unknown_kid_listener(std::function<void(std::string_view kid)> listener) {
  if (!impl_) impl_ = std::make_unique<Impl>(VerifierOptions{});
  impl_->on_unknown_kid = std::move(listener);
}

std::error_code Verifier::verify(std::string_view token, std::int64_t now_unix, Claims& out) const {
  if (!impl_) return JwtError::unsupported_alg;
  return impl_->verify(token, now_unix, out);
}

// ---------------------------------------------------------------------------------------------
// Signer

struct Signer::Impl {
  Alg alg = Alg::unknown;
  std::string secret;  // HS*
  EvpPkeyPtr key;      // RS256 / ES256

  ~Impl() { OPENSSL_cleanse(secret.data(), secret.size()); }

  // The JWS signature bytes of input.
  std::string signature(std::string_view input) const {
    if (detail::is_hmac(alg)) return detail::hmac_sign(alg, secret, input);
    std::string der = detail::sign_sha256(key.get(), input);
    if (alg == Alg::RS256) return der;

    // ES256: DER ECDSA-Sig-Value -> R || S, each left-padded to 32 bytes, in the low-S form.
    std::string raw = detail::es256_der_to_raw(der);
    auto* r = reinterpret_cast<unsigned char*>(raw.data());
    if (detail::es256_high_s(r)) detail::to_low_s(r + kEs256CoordSize);
    return raw;
  }
};

Signer::Signer() : impl_(std::make_unique<Impl>()) {}
Signer::~Signer() = default;
Signer::Signer(Signer&&) noexcept = default;
Signer& Signer::operator=(Signer&&) noexcept = default;

Signer Signer::hmac(Algorithm alg, std::string secret) {
  const Alg a = detail::to_alg(alg);
  if (!detail::is_hmac(a)) throw std::invalid_argument("jwt: Signer::hmac needs HS256, HS384 or HS512");
  if (secret.size() > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("jwt: secret too long");
  Signer signer;
  signer.impl_->alg = a;
  signer.impl_->secret = std::move(secret);
  return signer;
}

Signer Signer::private_key_pem(Algorithm alg, std::string_view pem) {
  const Alg a = detail::to_alg(alg);
  if (a != Alg::RS256 && a != Alg::ES256) {
    throw std::invalid_argument("jwt: Signer::private_key_pem needs RS256 or ES256");
  }
  EvpPkeyPtr key = detail::load_private_key(pem);
  detail::check_private_key_alg(a, key.get());
  Signer signer;
  signer.impl_->alg = a;
  signer.impl_->key = std::move(key);
  return signer;
}

std::string Signer::sign(std::string_view payload_json) const {
  if (!impl_) throw std::logic_error("jwt: use of a moved-from Signer");
  std::string header = R"({"alg":")";
  header += detail::alg_name(impl_->alg);
  header += R"(","typ":"JWT"})";
  return sign_with_header(header, payload_json);
}

std::string Signer::sign_with_header(std::string_view header_json, std::string_view payload_json) const {
  if (!impl_) throw std::logic_error("jwt: use of a moved-from Signer");
  std::string token;
  token.reserve((header_json.size() + payload_json.size()) * 4 / 3 + 700);
  detail::b64url_append(token, header_json);
  token += '.';
  detail::b64url_append(token, payload_json);
  const std::string sig = impl_->signature(token);
  token += '.';
  detail::b64url_append(token, sig);
  return token;
}

}  // namespace sig::auth
