// Room access tokens: HS256 JSON Web Tokens with the claims `room` (a room
// id or "*"), `exp` (Unix seconds) and optionally `name` (the display name
// the holder gets, whatever it asks for). Signed and checked with GLib's
// HMAC-SHA256; signatures are compared in constant time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace p2pcall::server {

std::string make_access_token (std::string_view secret, std::string_view room,
    std::int64_t expires_unix, std::string_view name = {});

// Returns nullptr when @token lets its holder into @room at @now_unix (and
// sets @name when the token carries one), else a sentence saying why not.
const char *check_access_token (std::string_view secret, const char *token,
    const std::string & room, std::int64_t now_unix, std::string & name);

// Parses "90", "90s", "15m", "1h", "7d" into seconds; -1 when malformed.
std::int64_t parse_duration (std::string_view text);

}  // namespace p2pcall::server
