// JWK Set parsing (see auth/jwks.hpp). The public keys are built with OpenSSL 3's
// EVP_PKEY_fromdata from the JWK's parameters; nothing goes through PEM or DER.

#include "auth/jwks.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <simdjson.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include "auth/alg.hpp"
#include "auth/key_entry.hpp"
#include "auth/openssl.hpp"

namespace sig::auth {

namespace {

using detail::Alg;
using detail::EvpPkeyPtr;

struct BnFree {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const noexcept { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

// Why a key is skipped; carried by exception inside this file only.
struct Skip : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The members of one JWK that matter here (each at most once: a repeated member is ambiguous).
struct Members {
  std::optional<std::string_view> kty, kid, alg, use, crv, n, e, x, y, k;
  bool has_private = false;  // "d" (or RSA's primes): private key material
  bool key_ops_verify = true;
};

void take(std::optional<std::string_view>& slot, simdjson::dom::element value, std::string_view name) {
  if (slot) throw Skip("\"" + std::string(name) + "\" appears twice");
  std::string_view text;
  if (value.get(text) != simdjson::SUCCESS) throw Skip("\"" + std::string(name) + "\" is not a string");
  slot = text;
}

Members read_members(simdjson::dom::object jwk) {
  Members m;
  bool key_ops_seen = false;
  const std::pair<std::string_view, std::optional<std::string_view>*> strings[] = {
      {"kty", &m.kty}, {"kid", &m.kid}, {"alg", &m.alg}, {"use", &m.use}, {"crv", &m.crv},
      {"n", &m.n},     {"e", &m.e},     {"x", &m.x},     {"y", &m.y},     {"k", &m.k}};
  for (const simdjson::dom::key_value_pair field : jwk) {
    const std::string_view key = field.key;
    bool taken = false;
    for (const auto& [name, slot] : strings) {
      if (key == name) {
        take(*slot, field.value, key);
        taken = true;
        break;
      }
    }
    if (taken) continue;
    if (key == "d" || key == "p" || key == "q") {
      m.has_private = true;
    } else if (key == "key_ops") {
      if (key_ops_seen) throw Skip("\"key_ops\" appears twice");
      key_ops_seen = true;
      simdjson::dom::array ops;
      if (field.value.get(ops) != simdjson::SUCCESS) throw Skip("\"key_ops\" is not an array");
      m.key_ops_verify = false;
      for (const simdjson::dom::element op : ops) {
        std::string_view text;
        if (op.get(text) == simdjson::SUCCESS && text == "verify") m.key_ops_verify = true;
      }
    }
  }
  return m;
}

// A base64url (unpadded) member decoded; a bad encoding skips the key.
std::string decode(std::optional<std::string_view> value, std::string_view name) {
  if (!value) throw Skip("\"" + std::string(name) + "\" is missing");
  auto bytes = base64url_decode(*value);
  if (!bytes) throw Skip("\"" + std::string(name) + "\" is not base64url");
  return std::move(*bytes);
}

BnPtr to_bn(std::string_view bytes) {
  BnPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()),
                     nullptr));
  if (!bn) throw Skip("out of memory");
  return bn;
}

EvpPkeyPtr from_params(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    throw Skip("OpenSSL refused the key: " + detail::openssl_error());
  }
  EvpPkeyPtr key(raw);
  // The point on the curve (EC), a sane modulus (RSA): what a public key must be.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    throw Skip("not a valid public key: " + detail::openssl_error());
  }
  return key;
}

EvpPkeyPtr rsa_key(const Members& m) {
  std::string n = decode(m.n, "n");
  const std::string e = decode(m.e, "e");
  // RFC 7518 6.3.1.1: some libraries prefix a zero octet to the modulus; it is not a bit of it.
  const std::size_t lead = n.find_first_not_of('\0');
  n.erase(0, lead == std::string::npos ? n.size() : lead);
  std::size_t bits = n.size() * 8;
  for (unsigned top = n.empty() ? 0U : static_cast<unsigned char>(n[0]); top != 0 && top < 0x80U; top <<= 1U)
    --bits;
  if (bits < static_cast<std::size_t>(kJwkMinRsaBits) || bits > static_cast<std::size_t>(kJwkMaxRsaBits)) {
    throw Skip("RSA modulus of " + std::to_string(bits) + " bits (2048..8192 accepted)");
  }
  // The exponent: odd, at least 3, and small (every real key uses 65537); a huge one is work.
  if (e.empty() || e.size() > 8 || (static_cast<unsigned char>(e.back()) & 1U) == 0 ||
      (e.find_first_not_of('\0') == e.size() - 1 && static_cast<unsigned char>(e.back()) < 3)) {
    throw Skip("bad RSA exponent");
  }
  BnPtr bn_n = to_bn(n), bn_e = to_bn(e);
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    throw Skip("OpenSSL: " + detail::openssl_error());
  }
  return from_params("RSA", bld.get());
}

EvpPkeyPtr p256_key(const Members& m) {
  if (!m.crv) throw Skip("\"crv\" is missing");
  if (*m.crv != "P-256") throw Skip("curve " + std::string(*m.crv) + " (only P-256 is supported)");
  const std::string x = decode(m.x, "x"), y = decode(m.y, "y");
  // RFC 7518 6.2.1.2: the coordinates are full length (32 octets for P-256).
  if (x.size() != 32 || y.size() != 32) throw Skip("P-256 coordinates must be 32 bytes each");
  std::string point = "\x04" + x + y;  // uncompressed SEC1 point
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    throw Skip("OpenSSL: " + detail::openssl_error());
  }
  return from_params("EC", bld.get());
}

std::shared_ptr<const detail::KeyEntry> make_entry(const Members& m, const JwksLimits& limits) {
  if (!m.kty) throw Skip("\"kty\" is missing");
  if (m.use && *m.use != "sig") throw Skip("\"use\" is \"" + std::string(*m.use) + "\", not \"sig\"");
  if (!m.key_ops_verify) throw Skip("\"key_ops\" does not allow \"verify\"");
  if (m.kid && (m.kid->empty() || m.kid->size() > limits.max_kid_length)) {
    throw Skip("\"kid\" is empty or longer than " + std::to_string(limits.max_kid_length));
  }
  const Alg alg = m.alg ? detail::parse_alg(*m.alg) : Alg::unknown;
  if (m.alg && alg == Alg::unknown) throw Skip("\"alg\" " + std::string(*m.alg) + " is not supported");

  auto entry = std::make_shared<detail::KeyEntry>();
  if (m.kid) entry->kid = std::string(*m.kid);
  if (*m.kty == "RSA" || *m.kty == "EC") {
    // A public key set carries no private part; one that does was published by mistake.
    if (m.has_private) throw Skip("private key material (\"d\") in a public key set");
    entry->family = *m.kty == "RSA" ? Alg::RS256 : Alg::ES256;
    if (m.alg && alg != entry->family) {
      throw Skip("\"alg\" " + std::string(*m.alg) + " does not fit kty " + std::string(*m.kty));
    }
    entry->pkey = *m.kty == "RSA" ? rsa_key(m) : p256_key(m);
  } else if (*m.kty == "oct") {
    if (m.alg && !detail::is_hmac(alg))
      throw Skip("\"alg\" " + std::string(*m.alg) + " does not fit kty oct");
    std::string k = decode(m.k, "k");
    if (k.size() < kJwkMinOctBytes || k.size() > kJwkMaxOctBytes) {
      throw Skip("oct key of " + std::to_string(k.size()) + " bytes (" + std::to_string(kJwkMinOctBytes) +
                 ".." + std::to_string(kJwkMaxOctBytes) + " accepted)");
    }
    entry->family = Alg::HS256;
    if (m.alg) entry->only = alg;
    try {
      entry->hmac.set(std::move(k));
    } catch (const std::exception& e) {
      throw Skip(e.what());
    }
  } else {
    throw Skip("kty " + std::string(*m.kty) + " is not supported (RSA, EC, oct)");
  }
  return entry;
}

}  // namespace

JwksResult parse_jwks(std::string_view json, const JwksLimits& limits) {
  JwksResult result;
  if (json.size() > limits.max_bytes) {
    result.error = "the key set is larger than " + std::to_string(limits.max_bytes) + " bytes";
    return result;
  }
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(json.data(), json.size(), true).get(root) != simdjson::SUCCESS) {
    result.error = "not a JSON object";
    return result;
  }
  simdjson::dom::array keys;
  bool seen = false;
  for (const simdjson::dom::key_value_pair field : root) {
    if (field.key != "keys") continue;
    if (seen || field.value.get(keys) != simdjson::SUCCESS) {
      result.error = "\"keys\" must be one array";
      return result;
    }
    seen = true;
  }
  if (!seen) {
    result.error = "no \"keys\" array (not a JWK Set)";
    return result;
  }
  if (keys.size() > limits.max_keys) {
    result.error = "more than " + std::to_string(limits.max_keys) + " keys";
    return result;
  }
  std::size_t index = 0;
  for (const simdjson::dom::element item : keys) {
    const std::string where = "keys[" + std::to_string(index++) + "]";
    simdjson::dom::object jwk;
    if (item.get(jwk) != simdjson::SUCCESS) {
      result.skipped.push_back(where + ": not an object");
      continue;
    }
    std::string kid;
    try {
      const Members m = read_members(jwk);
      if (m.kid) kid = std::string(m.kid->substr(0, 64));
      result.keys.add_entry(make_entry(m, limits));
    } catch (const std::exception& e) {  // Skip, or std::bad_alloc and the like
      ERR_clear_error();
      std::string line = where;
      if (!kid.empty()) line.append(" (kid \"").append(kid).append("\")");
      line.append(": ").append(e.what());
      result.skipped.push_back(std::move(line));
    }
  }
  if (result.keys.empty()) {
    result.error = "no usable key";
    if (!result.skipped.empty()) result.error += " (" + result.skipped.front() + ")";
  }
  return result;
}

}  // namespace sig::auth
