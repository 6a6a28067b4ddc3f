// JWT (compact JWS) verification and signing on OpenSSL 3, JSON through simdjson (DOM parser).
//
// Hot path (Verifier::verify) notes:
//  - Decoded parts and the JSON parser live in a per-thread scratch area, so a verification
//    does not allocate once a thread has warmed up (RS256/ES256 allocate inside OpenSSL).
//  - HMAC uses digest contexts pre-keyed at configuration time with the inner and outer pads
//    (what HMAC_Init does), copied into a per-thread context for each verification.
//  - Every failing OpenSSL call's error queue is cleared before returning: the queue is per
//    thread and a stale entry would be picked up by the next TLS operation of that thread.

#include "auth/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

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

// ---------------------------------------------------------------------------------------------
// base64url

namespace {

constexpr char kB64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t kB64Invalid = 0x80;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& v : table)
    v = kB64Invalid;
  for (std::uint8_t i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(kB64Alphabet[i])] = i;
  return table;
}
constexpr std::array<std::uint8_t, 256> kB64Decode = make_decode_table();

constexpr std::size_t b64_decoded_size(std::size_t n) noexcept {
  return n / 4 * 3 + (n % 4 == 3 ? 2 : n % 4 == 2 ? 1 : 0);
}

// Decodes unpadded base64url into out (room for b64_decoded_size(in.size()) bytes). Rejects
// characters outside the alphabet (including '=' padding and whitespace), an impossible length
// and non-zero unused bits in the last character (so every byte string has one encoding).
bool b64url_decode_to(std::string_view in, char* out, std::size_t& out_len) noexcept {
  const std::size_t n = in.size();
  if (n % 4 == 1) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t full = n - n % 4;
  char* o = out;
  for (std::size_t i = 0; i < full; i += 4) {
    const std::uint32_t a = kB64Decode[p[i]], b = kB64Decode[p[i + 1]], c = kB64Decode[p[i + 2]],
                        d = kB64Decode[p[i + 3]];
    if (((a | b | c | d) & kB64Invalid) != 0) return false;
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    o[0] = static_cast<char>(static_cast<unsigned char>(v >> 16));
    o[1] = static_cast<char>(static_cast<unsigned char>(v >> 8));
    o[2] = static_cast<char>(static_cast<unsigned char>(v));
    o += 3;
  }
  const std::size_t rem = n - full;
  if (rem >= 2) {
    const std::uint32_t a = kB64Decode[p[full]], b = kB64Decode[p[full + 1]];
    const std::uint32_t c = rem == 3 ? kB64Decode[p[full + 2]] : 0;
    if (((a | b | c) & kB64Invalid) != 0) return false;
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6);
    if (rem == 2) {
      if ((b & 0x0F) != 0) return false;
      *o++ = static_cast<char>(static_cast<unsigned char>(v >> 16));
    } else {
      if ((c & 0x03) != 0) return false;
      *o++ = static_cast<char>(static_cast<unsigned char>(v >> 16));
      *o++ = static_cast<char>(static_cast<unsigned char>(v >> 8));
    }
  }
  out_len = static_cast<std::size_t>(o - out);
  return true;
}

void b64url_append(std::string& out, const unsigned char* p, std::size_t n) {
  const std::size_t start = out.size();
  out.resize(start + (n * 4 + 2) / 3);
  char* o = out.data() + start;
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    *o++ = kB64Alphabet[(v >> 18) & 63];
    *o++ = kB64Alphabet[(v >> 12) & 63];
    *o++ = kB64Alphabet[(v >> 6) & 63];
    *o++ = kB64Alphabet[v & 63];
  }
  if (n - i == 1) {
    const std::uint32_t v = std::uint32_t{p[i]} << 16;
    *o++ = kB64Alphabet[(v >> 18) & 63];
    *o++ = kB64Alphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
    *o++ = kB64Alphabet[(v >> 18) & 63];
    *o++ = kB64Alphabet[(v >> 12) & 63];
    *o++ = kB64Alphabet[(v >> 6) & 63];
  }
}

void b64url_append(std::string& out, std::string_view bytes) {
  b64url_append(out, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  b64url_append(out, bytes);
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out(b64_decoded_size(text.size()), '\0');
  std::size_t len = 0;
  if (!b64url_decode_to(text, out.data(), len)) return std::nullopt;
  out.resize(len);
  return out;
}

// ---------------------------------------------------------------------------------------------
// OpenSSL helpers

namespace {

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct EvpMdFree {
  void operator()(EVP_MD* p) const noexcept { EVP_MD_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree>;
using EvpMdPtr = std::unique_ptr<EVP_MD, EvpMdFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

// The last OpenSSL error of this thread as text (and the queue emptied).
std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

[[noreturn]] void throw_openssl(const std::string& what) {
  throw std::runtime_error("jwt: " + what + ": " + openssl_error());
}

EvpMdPtr fetch_md(const char* name) {
  EvpMdPtr md(EVP_MD_fetch(nullptr, name, nullptr));
  if (!md) throw_openssl(std::string("cannot fetch digest ") + name);
  return md;
}

BioPtr mem_bio(std::string_view pem) {
  if (pem.size() > static_cast<std::size_t>(INT_MAX)) throw std::runtime_error("jwt: PEM too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw_openssl("BIO_new_mem_buf");
  return bio;
}

// A public key from a "PUBLIC KEY" PEM, or from a certificate PEM.
EvpPkeyPtr load_public_key(std::string_view pem) {
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(mem_bio(pem).get(), nullptr, nullptr, nullptr));
  if (!key) {
    X509Ptr cert(PEM_read_bio_X509(mem_bio(pem).get(), nullptr, nullptr, nullptr));
    if (cert) key.reset(X509_get_pubkey(cert.get()));
  }
  if (!key) throw_openssl("cannot read the public key PEM");
  ERR_clear_error();  // the failed first attempt, if any
  return key;
}

EvpPkeyPtr load_private_key(std::string_view pem) {
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(mem_bio(pem).get(), nullptr, nullptr, nullptr));
  if (!key) throw_openssl("cannot read the private key PEM");
  return key;
}

bool is_rsa(EVP_PKEY* key) {
  return EVP_PKEY_is_a(key, "RSA") == 1;
}

bool is_p256(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) {
    ERR_clear_error();
    return false;
  }
  const std::string_view group(name, len);
  return group == "prime256v1" || group == "P-256" || group == "secp256r1";
}

constexpr int kMinRsaBits = 2048;  // RFC 7518 3.3

// Internal algorithm index: HS256, HS384, HS512 are 0..2 (the HMAC table index).
enum class Alg : int { HS256 = 0, HS384 = 1, HS512 = 2, RS256 = 3, ES256 = 4, unknown = 5 };

Alg to_alg(Algorithm a) noexcept {
  switch (a) {
    case Algorithm::HS256: return Alg::HS256;
    case Algorithm::HS384: return Alg::HS384;
    case Algorithm::HS512: return Alg::HS512;
    case Algorithm::RS256: return Alg::RS256;
    case Algorithm::ES256: return Alg::ES256;
  }
  return Alg::unknown;
}

Alg parse_alg(std::string_view name) noexcept {
  if (name == "HS256") return Alg::HS256;
  if (name == "RS256") return Alg::RS256;
  if (name == "ES256") return Alg::ES256;
  if (name == "HS384") return Alg::HS384;
  if (name == "HS512") return Alg::HS512;
  return Alg::unknown;
}

const char* alg_name(Alg a) noexcept {
  switch (a) {
    case Alg::HS256: return "HS256";
    case Alg::HS384: return "HS384";
    case Alg::HS512: return "HS512";
    case Alg::RS256: return "RS256";
    case Alg::ES256: return "ES256";
    case Alg::unknown: break;
  }
  return "";
}

const char* hmac_digest_name(Alg a) noexcept {
  switch (a) {
    case Alg::HS384: return "SHA384";
    case Alg::HS512: return "SHA512";
    default: return "SHA256";
  }
}

constexpr std::size_t kEs256SigSize = 64;  // R || S, 32 bytes each
constexpr std::size_t kEs256CoordSize = 32;

// The order n of P-256, and floor(n / 2), big-endian. (R, S) and (R, n - S) are both valid
// ECDSA signatures of the same message: the verifier checks the "low S" one (S <= n / 2), after
// normalising a high S or refusing it (VerifierOptions::es256_require_low_s), and the signer
// makes it, so a token has one canonical signature (no malleability).
constexpr std::array<unsigned char, kEs256CoordSize> kP256Order = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
constexpr std::array<unsigned char, kEs256CoordSize> kP256HalfOrder = {
    0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xDE, 0x73, 0x7D, 0x56, 0xD3, 0x8B, 0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8};

// S of a raw R || S signature is above n / 2 (equal-length big-endian: memcmp orders them).
bool es256_high_s(const unsigned char* raw) {
  return std::memcmp(raw + kEs256CoordSize, kP256HalfOrder.data(), kEs256CoordSize) > 0;
}

// S := n - S, in place (32 bytes, big-endian): the low-S twin of a signature.
void to_low_s(unsigned char* s) {
  unsigned borrow = 0;
  for (std::size_t i = kEs256CoordSize; i-- > 0;) {
    const unsigned diff = 0x100U + kP256Order[i] - s[i] - borrow;
    s[i] = static_cast<unsigned char>(diff & 0xFFU);
    borrow = diff < 0x100U ? 1U : 0U;
  }
}

// R || S (JWS) -> DER ECDSA-Sig-Value. Returns the DER length, 0 on failure.
std::size_t es256_raw_to_der(const unsigned char* raw, unsigned char* der, std::size_t der_cap) {
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!sig) return 0;
  BIGNUM* r = BN_bin2bn(raw, static_cast<int>(kEs256CoordSize), nullptr);
  BIGNUM* s = BN_bin2bn(raw + kEs256CoordSize, static_cast<int>(kEs256CoordSize), nullptr);
  if (r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return 0;
  }
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0 || static_cast<std::size_t>(len) > der_cap) return 0;
  unsigned char* p = der;
  return i2d_ECDSA_SIG(sig.get(), &p) == len ? static_cast<std::size_t>(len) : 0;
}

// ---------------------------------------------------------------------------------------------
// Per-thread scratch for verify()

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
  const std::size_t need = b64_decoded_size(in.size()) + simdjson::SIMDJSON_PADDING;
  if (buf.size() < need) buf.resize(need);
  return b64url_decode_to(in, buf.data(), len);
}

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

// ---------------------------------------------------------------------------------------------
// Verifier

struct Verifier::Impl {
  VerifierOptions options;

  // HMAC: for each of HS256/384/512, a digest context already fed with key^ipad and one fed
  // with key^opad. Read-only after configuration; copied per verification.
  struct HmacKey {
    EvpMdCtxPtr inner;
    EvpMdCtxPtr outer;
  };
  std::array<HmacKey, 3> hmac;
  bool has_secret = false;

  EvpPkeyPtr rsa_key;  // RS256
  EvpPkeyPtr ec_key;   // ES256 (P-256)
  EvpMdPtr sha256 = fetch_md("SHA256");

  explicit Impl(VerifierOptions o) : options(std::move(o)) {}

  void set_secret(std::string secret) {
    if (secret.empty()) {  // an empty secret would let anyone forge tokens: treat as unset
      has_secret = false;
      OPENSSL_cleanse(secret.data(), secret.size());
      return;
    }
    std::array<HmacKey, 3> keys;
    for (int i = 0; i < 3; ++i) {
      EvpMdPtr md = fetch_md(hmac_digest_name(static_cast<Alg>(i)));
      const auto block = static_cast<std::size_t>(EVP_MD_get_block_size(md.get()));
      std::array<unsigned char, 128> k{};  // the key padded to the block size (SHA-512: 128)
      if (secret.size() > block) {         // longer keys are hashed first (RFC 2104)
        unsigned int len = 0;
        if (EVP_Digest(secret.data(), secret.size(), k.data(), &len, md.get(), nullptr) != 1) {
          throw_openssl("hashing the HMAC secret");
        }
      } else {
        std::memcpy(k.data(), secret.data(), secret.size());
      }
      std::array<unsigned char, 128> ipad{}, opad{};
      for (std::size_t j = 0; j < block; ++j) {
        ipad[j] = static_cast<unsigned char>(k[j] ^ 0x36);
        opad[j] = static_cast<unsigned char>(k[j] ^ 0x5c);
      }
      HmacKey& key = keys[static_cast<std::size_t>(i)];
      key.inner.reset(EVP_MD_CTX_new());
      key.outer.reset(EVP_MD_CTX_new());
      const bool ok = key.inner && key.outer && EVP_DigestInit_ex2(key.inner.get(), md.get(), nullptr) == 1 &&
                      EVP_DigestUpdate(key.inner.get(), ipad.data(), block) == 1 &&
                      EVP_DigestInit_ex2(key.outer.get(), md.get(), nullptr) == 1 &&
                      EVP_DigestUpdate(key.outer.get(), opad.data(), block) == 1;
      OPENSSL_cleanse(k.data(), k.size());
      OPENSSL_cleanse(ipad.data(), ipad.size());
      OPENSSL_cleanse(opad.data(), opad.size());
      if (!ok) throw_openssl("setting up the HMAC key");
    }
    OPENSSL_cleanse(secret.data(), secret.size());
    hmac = std::move(keys);
    has_secret = true;
  }

  void set_public_key(std::string_view pem) {
    EvpPkeyPtr key = load_public_key(pem);
    if (is_rsa(key.get())) {
      if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
        throw std::runtime_error("jwt: the RSA public key is shorter than 2048 bits");
      }
      rsa_key = std::move(key);
    } else if (is_p256(key.get())) {
      ec_key = std::move(key);
    } else {
      throw std::runtime_error("jwt: the public key is neither RSA (RS256) nor P-256 EC (ES256)");
    }
  }

  bool verify_hmac(Alg alg, std::string_view input, std::string_view sig, Scratch& s) const {
    const HmacKey& key = hmac[static_cast<std::size_t>(alg)];
    EVP_MD_CTX* ctx = s.hmac_ctx.get();
    unsigned char inner[EVP_MAX_MD_SIZE];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int inner_len = 0, mac_len = 0;
    if (ctx == nullptr || EVP_MD_CTX_copy_ex(ctx, key.inner.get()) != 1 ||
        EVP_DigestUpdate(ctx, input.data(), input.size()) != 1 ||
        EVP_DigestFinal_ex(ctx, inner, &inner_len) != 1 || EVP_MD_CTX_copy_ex(ctx, key.outer.get()) != 1 ||
        EVP_DigestUpdate(ctx, inner, inner_len) != 1 || EVP_DigestFinal_ex(ctx, mac, &mac_len) != 1) {
      ERR_clear_error();
      return false;
    }
    return sig.size() == mac_len && CRYPTO_memcmp(sig.data(), mac, mac_len) == 0;
  }

  bool verify_pkey(EVP_PKEY* key, std::string_view input, const unsigned char* sig,
                   std::size_t sig_len) const {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, sha256.get(), nullptr, key) == 1 &&
                    EVP_DigestVerify(ctx.get(), sig, sig_len,
                                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    if (!ok) ERR_clear_error();
    return ok;
  }

  JwtError verify(std::string_view token, std::int64_t now, Claims& out) const;
  JwtError check_claims(simdjson::dom::object payload, std::int64_t now, Claims& out) const;
};

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

  // 2. Header: a JSON object with a string alg (once), and no crit extension we cannot honour.
  Alg alg = Alg::unknown;
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
      } else if (field.key == "crit") {
        return JwtError::malformed;  // RFC 7515 4.1.11: we understand no extension
      }
    }
    if (!have_alg) return JwtError::malformed;
    alg = parse_alg(alg_name_sv);
  }

  // 3. The alg selects the key; an alg without a configured key of its kind is refused.
  const std::string_view signing_input = token.substr(0, dot2);
  const std::string_view sig(s.sig.data(), sig_len);
  switch (alg) {
    case Alg::HS256:
    case Alg::HS384:
    case Alg::HS512:
      if (!has_secret) return JwtError::unsupported_alg;
      if (!verify_hmac(alg, signing_input, sig, s)) return JwtError::bad_signature;
      break;
    case Alg::RS256:
      if (!rsa_key) return JwtError::unsupported_alg;
      if (!verify_pkey(rsa_key.get(), signing_input, reinterpret_cast<const unsigned char*>(sig.data()),
                       sig.size())) {
        return JwtError::bad_signature;
      }
      break;
    case Alg::ES256: {
      if (!ec_key) return JwtError::unsupported_alg;
      if (sig.size() != kEs256SigSize) return JwtError::bad_signature;
      std::array<unsigned char, kEs256SigSize> raw{};
      std::memcpy(raw.data(), sig.data(), raw.size());
      if (es256_high_s(raw.data())) {
        if (options.es256_require_low_s) return JwtError::bad_signature;
        to_low_s(raw.data() + kEs256CoordSize);
      }
      unsigned char der[80];
      const std::size_t der_len = es256_raw_to_der(raw.data(), der, sizeof der);
      if (der_len == 0) {
        ERR_clear_error();
        return JwtError::bad_signature;
      }
      if (!verify_pkey(ec_key.get(), signing_input, der, der_len)) return JwtError::bad_signature;
      break;
    }
    case Alg::unknown: return JwtError::unsupported_alg;
  }

  // 4. Payload: a JSON object; then the claims.
  simdjson::dom::object payload;
  if (s.parser.parse(s.payload.data(), payload_len, false).get(payload) != simdjson::SUCCESS) {
    return JwtError::malformed;
  }
  return check_claims(payload, now, out);
}

JwtError Verifier::Impl::check_claims(simdjson::dom::object payload, std::int64_t now, Claims& out) const {
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

Verifier::Verifier(VerifierOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Verifier::~Verifier() = default;
Verifier::Verifier(Verifier&&) noexcept = default;
Verifier& Verifier::operator=(Verifier&&) noexcept = default;

void Verifier::set_hmac_secret(std::string secret) {
  if (!impl_) impl_ = std::make_unique<Impl>(VerifierOptions{});
  impl_->set_secret(std::move(secret));
}

void Verifier::set_public_key_pem(std::string_view pem) {
  if (!impl_) impl_ = std::make_unique<Impl>(VerifierOptions{});
  impl_->set_public_key(pem);
}

bool Verifier::has_keys() const noexcept {
  return impl_ && (impl_->has_secret || impl_->rsa_key || impl_->ec_key);
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
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    if (alg == Alg::HS256 || alg == Alg::HS384 || alg == Alg::HS512) {
      EvpMdPtr md = fetch_md(hmac_digest_name(alg));
      unsigned char mac[EVP_MAX_MD_SIZE];
      unsigned int mac_len = 0;
      if (HMAC(md.get(), secret.data(), static_cast<int>(secret.size()), data, input.size(), mac, &mac_len) ==
          nullptr) {
        throw_openssl("HMAC");
      }
      return std::string(reinterpret_cast<const char*>(mac), mac_len);
    }
    EvpMdPtr md = fetch_md("SHA256");
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    std::size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md.get(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) {
      throw_openssl("signing");
    }
    std::string der(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len, data, input.size()) !=
        1) {
      throw_openssl("signing");
    }
    der.resize(len);
    if (alg == Alg::RS256) return der;

    // ES256: DER ECDSA-Sig-Value -> R || S, each left-padded to 32 bytes.
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) throw_openssl("decoding the ECDSA signature");
    std::string raw(kEs256SigSize, '\0');
    auto* r = reinterpret_cast<unsigned char*>(raw.data());
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), r, static_cast<int>(kEs256CoordSize)) < 0 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), r + kEs256CoordSize, static_cast<int>(kEs256CoordSize)) <
            0) {
      throw_openssl("encoding the ECDSA signature");
    }
    if (es256_high_s(r)) to_low_s(r + kEs256CoordSize);
    return raw;
  }
};

Signer::Signer() : impl_(std::make_unique<Impl>()) {}
Signer::~Signer() = default;
Signer::Signer(Signer&&) noexcept = default;
Signer& Signer::operator=(Signer&&) noexcept = default;

Signer Signer::hmac(Algorithm alg, std::string secret) {
  const Alg a = to_alg(alg);
  if (a != Alg::HS256 && a != Alg::HS384 && a != Alg::HS512) {
    throw std::invalid_argument("jwt: Signer::hmac needs HS256, HS384 or HS512");
  }
  if (secret.size() > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("jwt: secret too long");
  Signer signer;
  signer.impl_->alg = a;
  signer.impl_->secret = std::move(secret);
  return signer;
}

Signer Signer::private_key_pem(Algorithm alg, std::string_view pem) {
  const Alg a = to_alg(alg);
  if (a != Alg::RS256 && a != Alg::ES256) {
    throw std::invalid_argument("jwt: Signer::private_key_pem needs RS256 or ES256");
  }
  EvpPkeyPtr key = load_private_key(pem);
  if (a == Alg::RS256 && !is_rsa(key.get())) throw std::runtime_error("jwt: RS256 needs an RSA private key");
  if (a == Alg::ES256 && !is_p256(key.get()))
    throw std::runtime_error("jwt: ES256 needs a P-256 private key");
  Signer signer;
  signer.impl_->alg = a;
  signer.impl_->key = std::move(key);
  return signer;
}

std::string Signer::sign(std::string_view payload_json) const {
  if (!impl_) throw std::logic_error("jwt: use of a moved-from Signer");
  std::string header = R"({"alg":")";
  header += alg_name(impl_->alg);
  header += R"(","typ":"JWT"})";
  return sign_with_header(header, payload_json);
}

std::string Signer::sign_with_header(std::string_view header_json, std::string_view payload_json) const {
  if (!impl_) throw std::logic_error("jwt: use of a moved-from Signer");
  std::string token;
  token.reserve((header_json.size() + payload_json.size()) * 4 / 3 + 700);
  b64url_append(token, header_json);
  token += '.';
  b64url_append(token, payload_json);
  const std::string sig = impl_->signature(token);
  token += '.';
  b64url_append(token, sig);
  return token;
}

}  // namespace sig::auth
