// Turns --ice-server URLs into the RTCIceServer list every joiner gets.
#pragma once

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

}  // namespace p2pcall::server
