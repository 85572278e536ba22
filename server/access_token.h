// Room access tokens: JSON Web Tokens checked with libjwt, with the claims
// `room` (a room id or "*"), `exp` (Unix seconds), optionally `name` (the
// display name the holder gets, whatever it asks for), `nbf`, `iat` and
// `aud`. HS256 with a shared secret, or RS256/ES256 with a public key so
// the signing key never has to be on the call server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace p2pcall::server {

// What a token must satisfy. At least one of secret and public key is set.
struct TokenPolicy {
  std::string secret;          // HS256
  std::string public_key_pem;  // RS256 or ES256 ("BEGIN PUBLIC KEY")
  std::string audience;        // "": `aud` is not checked
  std::int64_t max_lifetime = 0;  // seconds `exp` may lie ahead; 0: any
};

// Clocks of a login service and the call server differ a little: `nbf` and
// `iat` may lie this far ahead. `exp` has no grace (a token is valid until
// the second it names).
inline constexpr std::int64_t kClockSkewSeconds = 30;

// HS256-signs a token; @issued_unix > 0 adds `iat`.
std::string make_access_token (std::string_view secret, std::string_view room,
    std::int64_t expires_unix, std::string_view name = {},
    std::int64_t issued_unix = 0);

// Returns nullptr when @token lets its holder into @room at @now_unix (and
// sets @name when the token carries one), else a sentence saying why not,
// for the server's log: clients are told no more than `unauthorized`.
const char *check_access_token (const TokenPolicy & policy, const char *token,
    const std::string & room, std::int64_t now_unix, std::string & name);

// The same with only a shared secret.
const char *check_access_token (std::string_view secret, const char *token,
    const std::string & room, std::int64_t now_unix, std::string & name);

// Reads a PEM public key file for TokenPolicy; false and @error naming the
// file when it cannot be read or holds no public key.
bool load_public_key (const std::string & path, std::string & pem,
    std::string & error);

// Parses "90", "90s", "15m", "1h", "7d" into seconds; -1 when malformed.
std::int64_t parse_duration (std::string_view text);

}  // namespace p2pcall::server
