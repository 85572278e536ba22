// Access tokens, TURN REST credentials and rate limiting, without sockets.
#include "access_token.h"
#include "ice_servers.h"
#include "room_registry.h"

using namespace p2pcall::server;
namespace proto = p2pcall::protocol;

namespace {

constexpr std::int64_t kNow = 1800000000;

const char *
check (const std::string &secret, const std::string &token,
    const std::string &room, std::string *name_out = nullptr)
{
  std::string name = "asked";
  const char *why = check_access_token (secret, token.c_str (), room, kNow, name);
  if (name_out)
    *name_out = name;
  return why;
}

void
test_tokens (void)
{
  std::string t = make_access_token ("s3cret", "myroom", kNow + 60);
  g_assert_null (check ("s3cret", t, "myroom"));
  g_assert_nonnull (check ("s3cret", t, "otherroom"));
  g_assert_nonnull (check ("wrong", t, "myroom"));
  g_assert_nonnull (check ("s3cret", make_access_token ("s3cret", "myroom",
              kNow - 1), "myroom"));

  std::string any = make_access_token ("s3cret", "*", kNow + 60, "Ann");
  std::string name;
  g_assert_null (check ("s3cret", any, "whatever", &name));
  g_assert_cmpstr (name.c_str (), ==, "Ann");
  g_assert_null (check ("s3cret", t, "myroom", &name));
  g_assert_cmpstr (name.c_str (), ==, "asked");

  // A token made by another JWT implementation (Python's hmac) verifies.
  g_assert_null (check ("k", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
          "eyJyb29tIjoiciIsImV4cCI6NDEwMjQ0NDgwMH0."
          "UoeYnETh-sUNKjwL04sx8RP_biEvP40rv1lKH9UTW1Q", "r"));

  // Tampering: another room in the claims with the old signature, the
  // "none" algorithm, truncation, garbage.
  std::string claims_other = make_access_token ("s3cret", "other", kNow + 60);
  std::string forged = t.substr (0, t.find ('.')) +
      claims_other.substr (claims_other.find ('.'),
          claims_other.rfind ('.') - claims_other.find ('.')) +
      t.substr (t.rfind ('.'));
  g_assert_nonnull (check ("s3cret", forged, "other"));
  g_assert_nonnull (check ("s3cret", "eyJhbGciOiJub25lIn0."
          "eyJyb29tIjoiciIsImV4cCI6NDEwMjQ0NDgwMH0.", "r"));
  g_assert_nonnull (check ("s3cret", t.substr (0, t.size () - 3), "myroom"));
  for (const char *junk : {"", ".", "..", "a.b.c", "%%%.%%%.%%%", "x"})
    g_assert_nonnull (check ("s3cret", junk, "myroom"));
  std::string name2;
  g_assert_nonnull (check_access_token ("s3cret", nullptr, "r", kNow, name2));
}

void
test_durations (void)
{
  g_assert_cmpint (parse_duration ("90"), ==, 90);
  g_assert_cmpint (parse_duration ("90s"), ==, 90);
  g_assert_cmpint (parse_duration ("15m"), ==, 900);
  g_assert_cmpint (parse_duration ("1h"), ==, 3600);
  g_assert_cmpint (parse_duration ("7d"), ==, 7 * 86400);
  for (const char *bad : {"", "h", "1x", "-5", "1.5h", "99999999999"})
    g_assert_cmpint (parse_duration (bad), ==, -1);
}

void
test_turn_rest_credentials (void)
{
  std::string user = turn_rest_username (1700000000, "alice");
  g_assert_cmpstr (user.c_str (), ==, "1700000000:alice");
  // Python: base64(hmac.new(b'north', b'1700000000:alice', sha1).digest())
  std::string password = turn_rest_password ("north", user);
  g_assert_cmpstr (password.c_str (), ==, "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
}

void
test_ice_server_urls (void)
{
  std::string json, error;
  g_assert_true (ice_servers_to_json ({"none"}, json, error));
  g_assert_cmpstr (json.c_str (), ==, "[]");
  g_assert_true (ice_servers_to_json ({"stun:198.51.100.1:3478",
          "turn://us%3Aer:p%2Bw@198.51.100.2:3478?transport=udp"}, json, error));
  g_assert_cmpstr (json.c_str (), ==, "[{\"urls\":\"stun:198.51.100.1:3478\"},"
      "{\"urls\":\"turn:198.51.100.2:3478?transport=udp\",\"username\":\"us:er\","
      "\"credential\":\"p+w\"}]");
  for (const char *bad : {"http://x", "stun:", "turn://nouser@h:1", "stun:a b"}) {
    g_assert_false (ice_servers_to_json ({bad}, json, error));
    g_assert_true (error.find (bad) != std::string::npos);
  }
}

void
test_rate_limit (void)
{
  gint64 clock_us = 0;
  RegistryConfig config;
  config.messages_per_second = 10;
  config.burst = 20;
  config.now_us = [&clock_us] { return clock_us; };
  config.add_ice_servers = [] (JsonArray *ice, const std::string &peer) {
    JsonObject *turn = json_object_new ();
    json_object_set_string_member (turn, "urls", "turn:198.51.100.3:3478");
    json_object_set_string_member (turn, "username", peer.c_str ());
    json_array_add_object_element (ice, turn);
  };
  RoomRegistry registry (config);
  std::vector<Outgoing> out;
  registry.handle_text (1, proto::build_join ("r", "", ""), out);
  registry.handle_text (2, proto::build_join ("r", "", ""), out);

  // Each joiner gets its own credentials.
  proto::ParseError perr;
  proto::JsonObjectPtr joined = proto::parse_message (out[0].text, perr);
  JsonArray *ice = json_object_get_array_member (joined.get (), "iceServers");
  g_assert_cmpuint (json_array_get_length (ice), ==, 1);
  std::string id1 = registry.peer_id (1);
  g_assert_cmpstr (proto::get_string (json_array_get_object_element (ice, 0),
          "username"), ==, id1.c_str ());
  out.clear ();

  // A flood from 1: the burst goes through, then one refusal, then nothing.
  int relayed = 0, refusals = 0;
  for (int i = 0; i < 100; i++) {
    registry.handle_text (1, proto::build_description (proto::kOffer, "x", ""),
        out);
    for (auto &o : out) {
      if (o.to == 2)
        relayed++;
      else if (o.text.find (proto::kErrRateLimited) != std::string::npos)
        refusals++;
    }
    out.clear ();
  }
  g_assert_cmpint (relayed, ==, 19);    // the join took one token
  g_assert_cmpint (refusals, ==, 1);

  // Peer 2 is not affected.
  registry.handle_text (2, proto::build_description (proto::kOffer, "y", ""), out);
  g_assert_cmpuint (out.size (), ==, 1);
  g_assert_cmpuint (out[0].to, ==, 1);
  out.clear ();

  // A second later ten more tokens.
  clock_us += G_USEC_PER_SEC;
  relayed = 0;
  for (int i = 0; i < 15; i++) {
    registry.handle_text (1, proto::build_description (proto::kOffer, "x", ""),
        out);
  }
  for (auto &o : out)
    relayed += o.to == 2;
  g_assert_cmpint (relayed, ==, 10);
}

}  // namespace

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, nullptr);
  g_test_add_func ("/access/tokens", test_tokens);
  g_test_add_func ("/access/durations", test_durations);
  g_test_add_func ("/access/turn-rest-credentials", test_turn_rest_credentials);
  g_test_add_func ("/access/ice-server-urls", test_ice_server_urls);
  g_test_add_func ("/access/rate-limit", test_rate_limit);
  return g_test_run ();
}
