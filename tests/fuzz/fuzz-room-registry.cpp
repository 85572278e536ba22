// libFuzzer target over the server's whole message handling: an input is a
// session of frames separated by newlines, each starting with one byte that
// picks which of four connections sends it ('!' closes that connection, '~'
// sends it as a binary frame). Every frame goes through parse -> check ->
// dispatch against a fresh RoomRegistry, with access tokens switched on for
// a quarter of the inputs.
#include "access_token.h"
#include "room_registry.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace p2pcall::server;

extern "C" int
LLVMFuzzerTestOneInput (const std::uint8_t *data, std::size_t size)
{
  std::string_view input (reinterpret_cast<const char *> (data), size);
  RegistryConfig config;
  config.max_room_size = 3;
  config.now_us = [] { return (gint64) 0; };
  if (!input.empty () && input[0] == 'T')
    config.authorize = [] (const std::string &room, const char *token,
        std::string &name) {
      return check_access_token ("fuzz-secret", token, room, 1800000000, name);
    };
  RoomRegistry registry (config);

  std::vector<Outgoing> out;
  while (!input.empty ()) {
    std::size_t end = input.find ('\n');
    std::string_view frame = input.substr (0, end);
    input = end == std::string_view::npos ? std::string_view () :
        input.substr (end + 1);
    if (frame.empty ())
      continue;
    ConnectionId conn = 1 + (std::uint8_t) frame[0] % 4;
    std::string_view body = frame.substr (1);
    if (!body.empty () && body[0] == '!')
      registry.disconnect (conn, out);
    else if (!body.empty () && body[0] == '~')
      registry.handle_binary (conn, out);
    else
      registry.handle_text (conn, body, out);
    // Every reply goes to one of the four connections.
    for (const Outgoing &o : out)
      if (o.to < 1 || o.to > 4)
        __builtin_trap ();
    out.clear ();
  }
  for (ConnectionId c = 1; c <= 4; c++)
    registry.disconnect (c, out);
  if (registry.member_count () != 0 || registry.room_count () != 0)
    __builtin_trap ();
  return 0;
}
