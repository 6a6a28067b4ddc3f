// ES256 signature encodings and the low-S form (see auth/es256.hpp).

#include "auth/es256.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>

#include <array>
#include <cstring>

#include "auth/openssl.hpp"

namespace sig::auth::detail {

namespace {

// The order n of P-256, and floor(n / 2), big-endian.
constexpr std::array<unsigned char, kEs256CoordSize> kP256Order = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
constexpr std::array<unsigned char, kEs256CoordSize> kP256HalfOrder = {
    0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xDE, 0x73, 0x7D, 0x56, 0xD3, 0x8B, 0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8};

}  // namespace

// Equal-length big-endian numbers: memcmp orders them.
bool es256_high_s(const unsigned char* raw) {
  return std::memcmp(raw + kEs256CoordSize, kP256HalfOrder.data(), kEs256CoordSize) > 0;
}

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

std::string es256_der_to_raw(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) throw_openssl("decoding the ECDSA signature");
  std::string raw(kEs256SigSize, '\0');
  auto* r = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), r, static_cast<int>(kEs256CoordSize)) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), r + kEs256CoordSize, static_cast<int>(kEs256CoordSize)) < 0) {
    throw_openssl("encoding the ECDSA signature");
  }
  return raw;
}

}  // namespace sig::auth::detail
