#include "app/jwt_options.hpp"

#include <CLI/CLI.hpp>

#include "app/keys.hpp"
#include "app/option_helpers.hpp"

namespace sig::app {
namespace {

using namespace std::chrono_literals;

constexpr DurationRange kLeeway{0ms, 10min};
// JWKS refreshes: under a second only for tests; a day at most, the upper bound of max-age too.
constexpr DurationRange kJwksRefresh{100ms, 24h};

// Key sets (issue 13; app/keys.hpp, app/jwks_source.hpp).
void add_jwks_options(CLI::App& app, Config& c) {
  app.add_option("--jwt-jwks-file", c.jwt_jwks_file,
                 "JWK Set file (RFC 7517) of token keys (RSA, EC P-256, oct); re-read on SIGHUP")
      ->envname("SIGNALING_JWT_JWKS_FILE")
      ->check(CLI::ExistingFile);
  app.add_option("--jwt-jwks-url", c.jwt_jwks_url,
                 "http(s) URL of the identity provider's JWK Set: fetched at start-up, refreshed "
                 "periodically and on an unknown kid")
      ->envname("SIGNALING_JWT_JWKS_URL")
      ->check([](const std::string& v) {
        return jwks_url_ok(v) ? std::string()
                              : "expected an https:// URL with a host (http:// only to a loopback host)";
      });
  add_duration(app, "--jwt-jwks-refresh", c.jwt_jwks_refresh,
               "Refresh of --jwt-jwks-url when the response has no Cache-Control max-age",
               "SIGNALING_JWT_JWKS_REFRESH", kJwksRefresh);
  add_duration(app, "--jwt-jwks-refresh-min", c.jwt_jwks_refresh_min,
               "Shortest refresh of --jwt-jwks-url (a smaller max-age, and the retry after a failure)",
               "SIGNALING_JWT_JWKS_REFRESH_MIN", kJwksRefresh);
  add_duration(app, "--jwt-jwks-unknown-kid-interval", c.jwt_jwks_unknown_kid_interval,
               "At most one refresh of --jwt-jwks-url per this interval for tokens of an unknown kid",
               "SIGNALING_JWT_JWKS_UNKNOWN_KID_INTERVAL", kJwksRefresh);
  app.add_option("--jwt-jwks-ca", c.jwt_jwks_ca,
                 "https --jwt-jwks-url: PEM file of the CA certificate(s) (default: the system trust store)")
      ->envname("SIGNALING_JWT_JWKS_CA")
      ->check(CLI::ExistingFile);
}

}  // namespace

void add_jwt_options(CLI::App& app, Config& c, std::string& jwt_secret_file) {
  app.add_option("--jwt-secret", c.jwt_secrets,
                 "Shared secret for HS256/HS384/HS512 tokens; kid:secret gives it a key id (repeatable: "
                 "one secret per kid, for rotation, and one without kid)")
      ->envname("SIGNALING_JWT_SECRET");
  app.add_option("--jwt-secret-file", jwt_secret_file,
                 "File holding the --jwt-secret (mode 0600 or 0400; one trailing newline is ignored)")
      ->envname("SIGNALING_JWT_SECRET_FILE");
  app.add_option("--jwt-public-key", c.jwt_public_key_file,
                 "PEM file with an RSA (RS256) or P-256 (ES256) public key")
      ->envname("SIGNALING_JWT_PUBLIC_KEY")
      ->check(CLI::ExistingFile);
  app.add_option("--jwt-issuer", c.jwt_issuer, "Required iss claim (unchecked when empty)")
      ->envname("SIGNALING_JWT_ISSUER");
  app.add_option("--jwt-audience", c.jwt_audience, "Required aud claim (unchecked when empty)")
      ->envname("SIGNALING_JWT_AUDIENCE");
  app.add_option("--jwt-name-claim", c.jwt_name_claim,
                 "Claim that carries the display name (the user id is sub)")
      ->envname("SIGNALING_JWT_NAME_CLAIM");
  add_duration(app, "--jwt-leeway", c.jwt_leeway, "Clock skew allowed for exp and nbf",
               "SIGNALING_JWT_LEEWAY", kLeeway);
  app.add_flag("--jwt-es256-require-low-s", c.jwt_es256_require_low_s,
               "Refuse ES256 tokens whose signature has a high S (default: normalise it to low S; only for "
               "issuers that sign with low S)")
      ->envname("SIGNALING_JWT_ES256_REQUIRE_LOW_S");
  add_jwks_options(app, c);
}

}  // namespace sig::app
