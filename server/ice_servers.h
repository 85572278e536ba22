// Turns --ice-server URLs into the RTCIceServer list every joiner gets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace p2pcall::server {

// The STUN servers advertised when none are given: two, because Firefox
// warns about and slows down with longer lists.
extern const char *const kDefaultIceServers[2];

// Accepts stun:HOST[:PORT], stuns:, turn:/turns:HOST[:PORT][?transport=..]
// and, to carry credentials, turn://USER:PASSWORD@HOST[:PORT][?...]
// (percent-encoded, as webrtcbin's turn-server property takes them).
// "none" alone advertises nothing. On success fills @json with a JSON array;
// otherwise fills @error with a sentence naming the bad URL.
bool ice_servers_to_json (const std::vector<std::string> & urls,
    std::string & json, std::string & error);

// The coturn TURN REST API's time-limited credentials: username
// "EXPIRY:NAME", password base64(HMAC-SHA1(secret, username)).
std::string turn_rest_username (std::int64_t expires_unix,
    const std::string & name);
std::string turn_rest_password (const std::string & secret,
    const std::string & username);

}  // namespace p2pcall::server
