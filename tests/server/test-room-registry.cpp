// RoomRegistry on its own: every message, the original app's shapes,
// routing, isolation and bad input, with no sockets.
#include "room_registry.h"

#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace p2pcall::server;
namespace proto = p2pcall::protocol;

namespace {

// Holds a registry and what it sent to each connection.
struct Fixture {
  RoomRegistry registry;
  std::map<ConnectionId, std::vector<std::string>> inbox;

  explicit Fixture (RegistryConfig config = {})
    : registry (config_with_ice (std::move (config))) {}

  static RegistryConfig config_with_ice (RegistryConfig c)
  {
    if (c.ice_servers_json == "[]")
      c.ice_servers_json = "[{\"urls\":\"stun:198.51.100.7:3478\"}]";
    return c;
  }

  void send (ConnectionId c, const std::string &text)
  {
    std::vector<Outgoing> out;
    registry.handle_text (c, text, out);
    deliver (out);
  }

  void close (ConnectionId c)
  {
    std::vector<Outgoing> out;
    registry.disconnect (c, out);
    deliver (out);
  }

  void deliver (std::vector<Outgoing> &out)
  {
    for (auto &o : out)
      inbox[o.to].push_back (o.text);
  }

  // Pops the oldest message of @c, parsed; fails the test if none.
  proto::JsonObjectPtr pop (ConnectionId c)
  {
    auto &box = inbox[c];
    g_assert_false (box.empty ());
    std::string text = box.front ();
    box.erase (box.begin ());
    proto::ParseError err;
    proto::JsonObjectPtr msg = proto::parse_message (text, err);
    g_assert_nonnull (msg.get ());
    return msg;
  }

  proto::JsonObjectPtr pop_type (ConnectionId c, const char *type)
  {
    proto::JsonObjectPtr msg = pop (c);
    g_assert_cmpstr (proto::get_string (msg.get (), "type"), ==, type);
    return msg;
  }

  void expect_error (ConnectionId c, const char *code)
  {
    proto::JsonObjectPtr msg = pop_type (c, proto::kError);
    g_assert_cmpstr (proto::get_string (msg.get (), "code"), ==, code);
    g_assert_nonnull (proto::get_string (msg.get (), "message"));
  }

  std::string join (ConnectionId c, const char *room, const char *name = "")
  {
    send (c, proto::build_join (room, name, ""));
    proto::JsonObjectPtr joined = pop_type (c, proto::kJoined);
    return proto::get_string (joined.get (), "id");
  }

  bool empty (ConnectionId c) { return inbox[c].empty (); }

  // Connections 1 and 2 in @room, the announcement to 1 taken.
  void join_two (const char *room)
  {
    join (1, room);
    join (2, room);
    pop_type (1, proto::kUserJoined);
  }
};

std::vector<std::string>
string_array (JsonObject *obj, const char *member)
{
  std::vector<std::string> result;
  JsonArray *array = json_object_get_array_member (obj, member);
  for (guint i = 0; i < json_array_get_length (array); i++)
    result.push_back (json_array_get_string_element (array, i));
  return result;
}

void
test_join_announces (void)
{
  Fixture f;
  f.send (1, "{\"type\":\"join-room\",\"roomId\":\"myroom123\",\"name\":\"Ann\"}");
  proto::JsonObjectPtr joined = f.pop_type (1, proto::kJoined);
  std::string a = proto::get_string (joined.get (), "id");
  g_assert_cmpuint (a.size (), ==, proto::kPeerIdLength);
  g_assert_cmpstr (proto::get_string (joined.get (), "roomId"), ==, "myroom123");
  g_assert_true (string_array (joined.get (), "roomUsers") ==
      std::vector<std::string> { a });
  JsonArray *ice = json_object_get_array_member (joined.get (), "iceServers");
  g_assert_cmpuint (json_array_get_length (ice), ==, 1);
  g_assert_cmpint (json_object_get_int_member (joined.get (), "maxRoomSize"),
      ==, (gint64) kDefaultMaxRoomSize);

  std::string b = f.join (2, "myroom123", "Bob");
  g_assert_cmpstr (a.c_str (), !=, b.c_str ());
  proto::JsonObjectPtr announce = f.pop_type (1, proto::kUserJoined);
  g_assert_cmpstr (proto::get_string (announce.get (), "from"), ==, b.c_str ());
  g_assert_cmpstr (proto::get_string (announce.get (), "name"), ==, "Bob");
  g_assert_true (string_array (announce.get (), "roomUsers") ==
      (std::vector<std::string> { a, b }));
  g_assert_true (f.empty (1));
  g_assert_true (f.empty (2));
}

void
test_joined_lists_peers_with_state (void)
{
  Fixture f;
  std::string a = f.join (1, "r", "Ann");
  f.send (1, "{\"type\":\"peer-state\",\"state\":{\"audio\":false,\"video\":true}}");
  g_assert_true (f.empty (1));

  f.send (2, proto::build_join ("r", "Bob", ""));
  proto::JsonObjectPtr joined = f.pop_type (2, proto::kJoined);
  JsonArray *peers = json_object_get_array_member (joined.get (), "peers");
  g_assert_cmpuint (json_array_get_length (peers), ==, 1);
  JsonObject *peer = json_array_get_object_element (peers, 0);
  g_assert_cmpstr (proto::get_string (peer, "id"), ==, a.c_str ());
  g_assert_cmpstr (proto::get_string (peer, "name"), ==, "Ann");
  JsonObject *state = proto::get_object (peer, "state");
  g_assert_nonnull (state);
  g_assert_false (json_object_get_boolean_member (state, "audio"));
  g_assert_true (json_object_get_boolean_member (state, "video"));
}

// The original app's client: no `to`, no names, reads `from`.
void
test_seed_two_party_exchange (void)
{
  Fixture f;
  std::string a = f.join (1, "myroom123");
  std::string b = f.join (2, "myroom123");
  f.pop_type (1, proto::kUserJoined);

  f.send (1, "{\"type\":\"offer\",\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0 o\"},\"from\":\"forged\"}");
  proto::JsonObjectPtr offer = f.pop_type (2, proto::kOffer);
  g_assert_cmpstr (proto::get_string (offer.get (), "from"), ==, a.c_str ());
  g_assert_cmpstr (proto::get_string (proto::get_object (offer.get (), "offer"),
          "sdp"), ==, "v=0 o");

  f.send (2, "{\"type\":\"answer\",\"answer\":{\"type\":\"answer\",\"sdp\":\"v=0 a\"}}");
  proto::JsonObjectPtr answer = f.pop_type (1, proto::kAnswer);
  g_assert_cmpstr (proto::get_string (answer.get (), "from"), ==, b.c_str ());

  f.send (2, "{\"type\":\"ice-candidate\",\"candidate\":{\"candidate\":\"candidate:1 1 UDP 1 127.0.0.1 5000 typ host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}}");
  proto::JsonObjectPtr cand = f.pop_type (1, proto::kIceCandidate);
  JsonObject *c = proto::get_object (cand.get (), "candidate");
  g_assert_cmpstr (proto::get_string (c, "sdpMid"), ==, "0");
  g_assert_cmpint (json_object_get_int_member (c, "sdpMLineIndex"), ==, 0);

  // End of candidates is a null candidate.
  f.send (1, "{\"type\":\"ice-candidate\",\"candidate\":null}");
  cand = f.pop_type (2, proto::kIceCandidate);
  g_assert_true (json_object_get_null_member (cand.get (), "candidate"));

  f.close (2);
  proto::JsonObjectPtr gone = f.pop_type (1, proto::kUserDisconnected);
  g_assert_cmpstr (proto::get_string (gone.get (), "from"), ==, b.c_str ());
  g_assert_true (string_array (gone.get (), "roomUsers") ==
      std::vector<std::string> { a });
  g_assert_true (f.empty (1));
}

void
test_routing_with_and_without_to (void)
{
  Fixture f;
  std::string a = f.join (1, "mesh");
  std::string b = f.join (2, "mesh");
  std::string c = f.join (3, "mesh");
  f.inbox.clear ();

  f.send (1, proto::build_description (proto::kOffer, "sdp-for-c", c));
  g_assert_true (f.empty (2));
  proto::JsonObjectPtr got = f.pop_type (3, proto::kOffer);
  g_assert_cmpstr (proto::get_string (got.get (), "from"), ==, a.c_str ());
  g_assert_cmpstr (proto::get_string (got.get (), "to"), ==, c.c_str ());

  f.send (2, proto::build_description (proto::kOffer, "to-all", ""));
  f.pop_type (1, proto::kOffer);
  f.pop_type (3, proto::kOffer);
  g_assert_true (f.empty (2));

  // A peer in another room, an unknown id and oneself are all unknown here.
  std::string other = f.join (4, "elsewhere");
  for (const std::string &to : { other, std::string ("nobody00"), a }) {
    f.send (1, proto::build_candidate (0, "0", "candidate:x", to));
    f.expect_error (1, proto::kErrUnknownPeer);
  }
  g_assert_true (f.empty (4));
  g_assert_true (f.empty (2));
  g_assert_true (f.empty (3));
}

void
test_peer_state_relayed (void)
{
  Fixture f;
  std::string a = f.join (1, "r");
  f.join (2, "r");
  f.join (3, "r");
  f.inbox.clear ();
  f.send (1, "{\"type\":\"peer-state\",\"state\":{\"audio\":false,\"video\":false,\"screen\":false,\"name\":\"Ann\"}}");
  for (ConnectionId c : {2, 3}) {
    proto::JsonObjectPtr st = f.pop_type (c, proto::kPeerState);
    g_assert_cmpstr (proto::get_string (st.get (), "from"), ==, a.c_str ());
    JsonObject *state = proto::get_object (st.get (), "state");
    g_assert_false (json_object_get_boolean_member (state, "audio"));
    g_assert_cmpstr (proto::get_string (state, "name"), ==, "Ann");
  }
  g_assert_true (f.empty (1));
}

void
test_rooms_are_isolated (void)
{
  Fixture f;
  f.join (1, "red");
  f.join (2, "blue");
  f.join (3, "red");
  f.join (4, "blue");
  f.inbox.clear ();
  f.send (1, proto::build_description (proto::kOffer, "red-offer", ""));
  f.pop_type (3, proto::kOffer);
  g_assert_true (f.empty (2));
  g_assert_true (f.empty (4));
  f.close (1);
  f.pop_type (3, proto::kUserDisconnected);
  g_assert_true (f.empty (2));
  g_assert_true (f.empty (4));
  g_assert_cmpuint (f.registry.room_count (), ==, 2);
}

void
test_leave_room_and_rejoin (void)
{
  Fixture f;
  std::string a = f.join (1, "r");
  f.join (2, "r");
  f.inbox.clear ();
  f.send (1, "{\"type\":\"leave-room\"}");
  proto::JsonObjectPtr left = f.pop_type (1, proto::kLeft);
  g_assert_cmpstr (proto::get_string (left.get (), "roomId"), ==, "r");
  f.pop_type (2, proto::kUserDisconnected);

  // Relay after leaving is refused; a new join works and gets a new id.
  f.send (1, proto::build_description (proto::kOffer, "x", ""));
  f.expect_error (1, proto::kErrNotInRoom);
  std::string again = f.join (1, "other");
  g_assert_cmpstr (again.c_str (), !=, a.c_str ());
  f.close (1);
  f.close (1);                  // twice is harmless
  g_assert_cmpuint (f.registry.member_count (), ==, 1);
}

void
test_room_full (void)
{
  RegistryConfig config;
  config.max_room_size = 2;
  Fixture f (config);
  f.join (1, "small");
  f.join (2, "small");
  f.inbox.clear ();
  f.send (3, proto::build_join ("small", "", ""));
  f.expect_error (3, proto::kErrRoomFull);
  g_assert_true (f.empty (1));
  g_assert_true (f.empty (2));
  f.close (2);
  f.join (3, "small");
}

void
test_authorize_hook (void)
{
  RegistryConfig config;
  config.authorize = [] (const std::string &room, const char *token,
      std::string &name) -> const char * {
    if (!token || std::string (token) != "good")
      return "a valid token is needed";
    name = "from-token";
    return nullptr;
  };
  Fixture f (config);
  f.send (1, proto::build_join ("r", "me", ""));
  f.expect_error (1, proto::kErrUnauthorized);
  f.send (1, proto::build_join ("r", "me", "bad"));
  f.expect_error (1, proto::kErrUnauthorized);
  g_assert_cmpuint (f.registry.member_count (), ==, 0);
  f.send (2, proto::build_join ("r", "", "good"));
  f.pop_type (2, proto::kJoined);
  f.send (1, proto::build_join ("r", "me", "good"));
  f.pop_type (1, proto::kJoined);
  proto::JsonObjectPtr announce = f.pop_type (2, proto::kUserJoined);
  g_assert_cmpstr (proto::get_string (announce.get (), "name"), ==,
      "from-token");
}

void
test_bad_input (void)
{
  Fixture f;
  f.join (9, "bystander");
  f.inbox.clear ();

  struct Case {
    const char *text;
    const char *code;
  } cases[] = {
    {"", proto::kErrBadMessage},
    {"not json", proto::kErrBadMessage},
    {"[1,2,3]", proto::kErrBadMessage},
    {"\"join-room\"", proto::kErrBadMessage},
    {"null", proto::kErrBadMessage},
    {"{}", proto::kErrBadMessage},
    {"{\"type\":42}", proto::kErrBadMessage},
    {"{\"type\":\"dance\"}", proto::kErrUnknownType},
    {"{\"type\":\"joined\"}", proto::kErrUnknownType},
    {"{\"type\":\"join-room\"}", proto::kErrBadMessage},
    {"{\"type\":\"join-room\",\"roomId\":7}", proto::kErrBadMessage},
    {"{\"type\":\"join-room\",\"roomId\":\"r\",\"name\":{}}", proto::kErrBadMessage},
    {"{\"type\":\"join-room\",\"roomId\":\"\"}", proto::kErrBadRoom},
    {"{\"type\":\"join-room\",\"roomId\":\"has space\"}", proto::kErrBadRoom},
    {"{\"type\":\"join-room\",\"roomId\":\"../etc\"}", proto::kErrBadRoom},
    {"{\"type\":\"join-room\",\"roomId\":\"r\\u0000oom\"}", proto::kErrBadMessage},
    {"{\"type\":\"offer\",\"offer\":{\"sdp\":\"x\"}}", proto::kErrNotInRoom},
    {"{\"type\":\"leave-room\"}", proto::kErrNotInRoom},
    {"{\"type\":\"peer-state\",\"state\":{}}", proto::kErrNotInRoom},
    {"{\"type\":\"offer\"}", proto::kErrBadMessage},
    {"{\"type\":\"offer\",\"offer\":\"sdp\"}", proto::kErrBadMessage},
    {"{\"type\":\"answer\",\"answer\":{\"sdp\":5}}", proto::kErrBadMessage},
    {"{\"type\":\"ice-candidate\"}", proto::kErrBadMessage},
    {"{\"type\":\"ice-candidate\",\"candidate\":\"x\"}", proto::kErrBadMessage},
    {"{\"type\":\"peer-state\",\"state\":true}", proto::kErrBadMessage},
    {"{\"type\":\"offer\",\"offer\":{\"sdp\":\"x\"},\"to\":5}", proto::kErrBadMessage},
    {"\xff\xfe{}", proto::kErrBadMessage},
  };
  for (const Case &c : cases) {
    f.send (1, c.text);
    proto::JsonObjectPtr err = f.pop_type (1, proto::kError);
    if (g_strcmp0 (proto::get_string (err.get (), "code"), c.code) != 0)
      g_error ("input %s: got %s, expected %s", c.text,
          proto::get_string (err.get (), "code"), c.code);
    g_assert_true (f.empty (1));
  }
  std::string long_room (proto::kMaxRoomIdLength + 1, 'a');
  f.send (1, proto::build_join (long_room, "", ""));
  f.expect_error (1, proto::kErrBadRoom);
  f.join (1, std::string (proto::kMaxRoomIdLength, 'a').c_str ());

  // Joining twice is refused and keeps the first membership.
  f.send (1, proto::build_join ("another", "", ""));
  f.expect_error (1, proto::kErrAlreadyInRoom);
  g_assert_cmpuint (f.registry.member_count (), ==, 2);

  std::vector<Outgoing> out;
  f.registry.handle_binary (1, out);
  f.deliver (out);
  f.expect_error (1, proto::kErrBadMessage);

  g_assert_true (f.empty (9));
}

void
test_long_names_are_cut (void)
{
  Fixture f;
  std::string name;
  for (int i = 0; i < 100; i++)
    name += "é";
  f.join (1, "r");
  f.send (2, proto::build_join ("r", name, ""));
  f.pop_type (2, proto::kJoined);
  proto::JsonObjectPtr announce = f.pop_type (1, proto::kUserJoined);
  const char *got = proto::get_string (announce.get (), "name");
  g_assert_true (g_utf8_validate (got, -1, nullptr));
  g_assert_cmpint (g_utf8_strlen (got, -1), ==, (glong) proto::kMaxNameLength);
}

// Issue 19, item 6: numbers a JSON peer cannot hold are refused, and
// relayed messages keep every value exactly as sent.
void
test_numbers_stay_json (void)
{
  Fixture f;
  f.join_two ("r");
  const char *refused[] = {
    "{\"type\":\"peer-state\",\"state\":{\"x\":1e999}}",
    "{\"type\":\"peer-state\",\"state\":{\"x\":-1e999}}",
    "{\"type\":\"offer\",\"offer\":{\"sdp\":\"s\"},\"n\":10000000000000000000000000000000000000000}",
    "{\"type\":\"offer\",\"offer\":{\"sdp\":\"s\"},\"n\":9007199254740992}",
    // What json-glib takes but a browser's JSON.parse does not: relayed as
    // written, it would break the receivers.
    "{\"type\":\"offer\",\"offer\":{\"sdp\":\"s\"} /* c */}",
    "{\"type\":\"offer\",\"offer\":{'sdp':\"s\"}}",
    "{\"type\":\"offer\",\"offer\":{\"sdp\":\"s\"},\"n\":0x10}",
    "{\"type\":\"offer\",\"offer\":{\"sdp\":\"s\"},\"n\":.5}",
    "{\"type\":\"offer\",\"offer\":{\"sdp\":\"s\"},\"n\":01}",
    "{\"type\":\"offer\",\"offer\":{\"sdp\":\"s\\q\"}}",
  };
  for (const char *text : refused) {
    f.send (1, text);
    f.expect_error (1, proto::kErrBadMessage);
  }
  std::string deep = "{\"type\":\"offer\",\"offer\":{\"sdp\":\"s\"},\"n\":" +
      std::string (40, '[') + std::string (40, ']') + "}";
  f.send (1, deep);
  f.expect_error (1, proto::kErrBadMessage);
  g_assert_true (f.empty (2));
  // A joiner's joined still parses.
  f.join (3, "r");
  f.inbox.clear ();

  std::string offer = "{\"type\":\"offer\",\"offer\":{\"type\":\"offer\","
      "\"sdp\":\"s\"},\"x\":0.1,\"big\":9007199254740991,\"e\":1.5e300,"
      "\"from\":\"forged\"}";
  f.send (1, offer);
  std::string relayed = f.inbox[2].front ();
  for (const char *kept : {"\"x\":0.1,", "\"big\":9007199254740991,",
        "\"e\":1.5e300"})
    if (relayed.find (kept) == std::string::npos)
      g_error ("%s lost %s", relayed.c_str (), kept);
  proto::JsonObjectPtr msg = f.pop_type (2, proto::kOffer);
  g_assert_cmpstr (proto::get_string (msg.get (), "from"), !=, "forged");
  g_assert_true (relayed.find ("forged") == std::string::npos);
  // Values reach the receiver as written, spacing inside them too.
  f.send (2, "{ \"type\":\"answer\", \"answer\":{\"sdp\":\"a\"}, "
      "\"v\":[1.10, 2E2], \"\\u0066rom\":\"forged\" }");
  std::string answer = f.inbox[1].back ();
  g_assert_true (answer.find ("\"v\":[1.10, 2E2]") != std::string::npos);
  g_assert_true (answer.find ("forged") == std::string::npos);
  f.pop_type (1, proto::kAnswer);
}

// Issue 19, item 7: a token's name holds for the whole membership.
void
test_token_name_wins (void)
{
  RegistryConfig config;
  config.authorize = [] (const std::string &, const char *token,
      std::string &name) -> const char * {
    if (token && std::string (token) == "named")
      name = "Token Name";
    return nullptr;
  };
  Fixture f (config);
  f.send (1, proto::build_join ("r", "", "named"));
  f.pop_type (1, proto::kJoined);
  f.join (2, "r", "Other");
  f.pop_type (1, proto::kUserJoined);
  f.send (1, proto::build_peer_state (true, true, "Impostor", "c1"));
  proto::JsonObjectPtr state = f.pop_type (2, proto::kPeerState);
  g_assert_cmpstr (proto::get_string (proto::get_object (state.get (),
              "state"), "name"), ==, "Token Name");
  // A member without a token name may rename itself.
  f.send (2, proto::build_peer_state (true, true, "Renamed", "c2"));
  state = f.pop_type (1, proto::kPeerState);
  g_assert_cmpstr (proto::get_string (proto::get_object (state.get (),
              "state"), "name"), ==, "Renamed");
  // Later joiners see the token's name too.
  f.send (3, proto::build_join ("r", "", ""));
  proto::JsonObjectPtr joined = f.pop_type (3, proto::kJoined);
  JsonArray *peers = json_object_get_array_member (joined.get (), "peers");
  JsonObject *first = json_array_get_object_element (peers, 0);
  g_assert_cmpstr (proto::get_string (first, "name"), ==, "Token Name");
  g_assert_cmpstr (proto::get_string (proto::get_object (first, "state"),
          "name"), ==, "Token Name");
}

// Issue 19, item 9: peer-state has a shape and a size.
void
test_peer_state_shape (void)
{
  Fixture f;
  f.join_two ("r");
  std::string many = "{\"type\":\"peer-state\",\"state\":{";
  for (int i = 0; i < 17; i++)
    many += std::string (i ? "," : "") + "\"k" + std::to_string (i) + "\":1";
  many += "}}";
  std::string big = "{\"type\":\"peer-state\",\"state\":{\"k\":\"" +
      std::string (2000, 'x') + "\"}}";
  const std::string refused[] = {
    many, big,
    "{\"type\":\"peer-state\",\"state\":{\"audio\":\"yes\"}}",
    "{\"type\":\"peer-state\",\"state\":{\"name\":5}}",
    "{\"type\":\"peer-state\",\"state\":{\"clientId\":\"\"}}",
    "{\"type\":\"peer-state\",\"state\":{\"clientId\":\"" +
        std::string (65, 'c') + "\"}}",
  };
  for (const std::string &text : refused) {
    f.send (1, text);
    f.expect_error (1, proto::kErrBadMessage);
  }
  g_assert_true (f.empty (2));
  // The page's own state passes, with a long name cut to size.
  f.send (1, proto::build_peer_state (true, false, std::string (300, 'n'),
          "0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"));
  f.pop_type (2, proto::kPeerState);
}

// Log lines seen, by kind; every line still goes to the default writer.
int join_leave_lines = 0;
int not_logged_lines = 0;

GLogWriterOutput
count_log_lines (GLogLevelFlags level, const GLogField *fields, gsize n,
    gpointer data)
{
  for (gsize i = 0; i < n; i++) {
    if (g_strcmp0 (fields[i].key, "MESSAGE") != 0)
      continue;
    const char *text = (const char *) fields[i].value;
    if (g_str_has_prefix (text, "join room=") ||
        g_str_has_prefix (text, "leave room="))
      join_leave_lines++;
    if (strstr (text, "join/leave lines not logged"))
      not_logged_lines++;
  }
  return g_log_writer_default (level, fields, n, data);
}

// Issue 19, item 9: a join/leave storm is not a log storm.
void
test_membership_log_is_limited (void)
{
  gint64 now = 0;
  RegistryConfig config;
  config.now_us = [&now] { return now; };
  config.burst = 1000;
  Fixture f (config);
  join_leave_lines = not_logged_lines = 0;
  for (ConnectionId c = 1; c <= 100; c++) {
    f.join (c, ("storm-" + std::to_string (c)).c_str ());
    f.close (c);
  }
  g_assert_cmpint (join_leave_lines, ==, kMembershipLogLinesPerSecond);
  g_assert_cmpint (not_logged_lines, ==, 0);
  // A second later the count of what was left out is logged, and lines
  // flow again.
  now += G_USEC_PER_SEC;
  f.join (200, "calm");
  g_assert_cmpint (not_logged_lines, ==, 1);
  g_assert_cmpint (join_leave_lines, ==, kMembershipLogLinesPerSecond + 1);
}

// Random bytes and mutated valid messages: nothing may crash, every frame
// gets at most one reply to its sender, and a bystander in another room
// hears nothing.
void
test_fuzz (void)
{
  Fixture f;
  f.join (100, "bystander");
  f.inbox.clear ();
  const char *seeds[] = {
    "{\"type\":\"join-room\",\"roomId\":\"fz\",\"name\":\"n\"}",
    "{\"type\":\"offer\",\"offer\":{\"type\":\"offer\",\"sdp\":\"s\"}}",
    "{\"type\":\"answer\",\"answer\":{\"type\":\"answer\",\"sdp\":\"s\"},\"to\":\"aaaaaaaa\"}",
    "{\"type\":\"ice-candidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMLineIndex\":0}}",
    "{\"type\":\"peer-state\",\"state\":{\"audio\":true,\"name\":\"x\"}}",
    "{\"type\":\"leave-room\"}",
  };
  GRand *rand = g_rand_new_with_seed (1234);
  for (int i = 0; i < 20000; i++) {
    ConnectionId conn = 1 + g_rand_int_range (rand, 0, 8);
    std::string text = seeds[g_rand_int_range (rand, 0, G_N_ELEMENTS (seeds))];
    int mutations = g_rand_int_range (rand, 0, 4);
    for (int m = 0; m < mutations && !text.empty (); m++) {
      std::size_t at = g_rand_int_range (rand, 0, text.size ());
      switch (g_rand_int_range (rand, 0, 3)) {
        case 0: text[at] = (char) g_rand_int_range (rand, 0, 256); break;
        case 1: text.erase (at, 1); break;
        default: text.insert (at, 1, "{}[]\":,\\"[g_rand_int_range (rand, 0, 8)]);
      }
    }
    if (g_rand_int_range (rand, 0, 50) == 0)
      f.close (conn);
    f.send (conn, text);
  }
  g_rand_free (rand);
  g_assert_true (f.empty (100));
}

}  // namespace

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, nullptr);
  g_log_set_writer_func (count_log_lines, nullptr, nullptr);
  g_test_add_func ("/registry/join-announces", test_join_announces);
  g_test_add_func ("/registry/joined-lists-peers", test_joined_lists_peers_with_state);
  g_test_add_func ("/registry/seed-two-party", test_seed_two_party_exchange);
  g_test_add_func ("/registry/routing", test_routing_with_and_without_to);
  g_test_add_func ("/registry/peer-state", test_peer_state_relayed);
  g_test_add_func ("/registry/isolation", test_rooms_are_isolated);
  g_test_add_func ("/registry/leave-and-rejoin", test_leave_room_and_rejoin);
  g_test_add_func ("/registry/room-full", test_room_full);
  g_test_add_func ("/registry/authorize", test_authorize_hook);
  g_test_add_func ("/registry/bad-input", test_bad_input);
  g_test_add_func ("/registry/long-names", test_long_names_are_cut);
  g_test_add_func ("/registry/fuzz", test_fuzz);
  g_test_add_func ("/registry/numbers-stay-json", test_numbers_stay_json);
  g_test_add_func ("/registry/token-name-wins", test_token_name_wins);
  g_test_add_func ("/registry/peer-state-shape", test_peer_state_shape);
  g_test_add_func ("/registry/membership-log-limited", test_membership_log_is_limited);
  return g_test_run ();
}
