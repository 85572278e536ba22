#include "room_registry.h"
#include "metrics.h"

#include <algorithm>
#include <cstring>

namespace p2pcall::server {

namespace proto = p2pcall::protocol;

namespace {

void
send_error (std::vector<Outgoing> &out, ConnectionId to, const char *code,
    std::string_view message, std::string_view type = {})
{
  metrics::message_refused (code);
  out.push_back ({to, proto::build_error (code, message, type)});
}

}  // namespace

RoomRegistry::RoomRegistry (RegistryConfig config)
  : config_ (std::move (config))
{
  g_autoptr (GError) err = nullptr;
  ice_servers_ = json_from_string (config_.ice_servers_json.c_str (), &err);
  if (!ice_servers_ || !JSON_NODE_HOLDS_ARRAY (ice_servers_)) {
    g_warning ("ice servers are not a JSON array, advertising none");
    if (ice_servers_)
      json_node_unref (ice_servers_);
    ice_servers_ = json_node_init_array (json_node_alloc (), nullptr);
    json_node_take_array (ice_servers_, json_array_new ());
  }
}

RoomRegistry::~RoomRegistry ()
{
  json_node_unref (ice_servers_);
}

std::string
RoomRegistry::peer_id (ConnectionId conn) const
{
  auto it = members_.find (conn);
  return it == members_.end () ? std::string () : it->second.id;
}

std::string
RoomRegistry::new_peer_id () const
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string id;
  do {
    id.clear ();
    for (std::size_t i = 0; i < proto::kPeerIdLength; i++)
      id += alphabet[g_random_int_range (0, sizeof (alphabet) - 1)];
  } while (by_peer_id_.count (id));
  return id;
}

JsonArray *
RoomRegistry::room_users (const std::string &room) const
{
  JsonArray *users = json_array_new ();
  auto it = rooms_.find (room);
  if (it != rooms_.end ())
    for (ConnectionId c : it->second)
      json_array_add_string_element (users, members_.at (c).id.c_str ());
  return users;
}

void
RoomRegistry::handle_binary (ConnectionId conn, std::vector<Outgoing> &out)
{
  if (!take_token (conn, out))
    return;
  send_error (out, conn, proto::kErrBadMessage,
      "binary frames are not part of the protocol; send JSON text");
}

bool
RoomRegistry::take_token (ConnectionId conn, std::vector<Outgoing> &out)
{
  gint64 now = config_.now_us ();
  auto [it, added] = buckets_.try_emplace (conn,
      Bucket { config_.burst, now, now - G_USEC_PER_SEC });
  Bucket &b = it->second;
  if (!added) {
    b.tokens = std::min (config_.burst, b.tokens +
        (now - b.refilled_us) * config_.messages_per_second / G_USEC_PER_SEC);
    b.refilled_us = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  if (now - b.last_refusal_us >= G_USEC_PER_SEC) {
    b.last_refusal_us = now;
    send_error (out, conn, proto::kErrRateLimited,
        "too many messages: at most " +
        std::to_string ((int) config_.messages_per_second) +
        " a second; this one and others were dropped");
  }
  return false;
}

void
RoomRegistry::handle_text (ConnectionId conn, std::string_view text,
    std::vector<Outgoing> &out)
{
  if (!take_token (conn, out))
    return;
  proto::ParseError perr;
  proto::JsonObjectPtr msg = proto::parse_message (text, perr);
  if (!msg) {
    send_error (out, conn, perr.code, perr.message);
    return;
  }

  const char *type = proto::get_string (msg.get (), "type");
  if (!proto::is_client_type (type)) {
    send_error (out, conn, proto::kErrUnknownType,
        std::string ("unknown message type \"") + type + "\"", type);
    return;
  }
  if (const char *problem = proto::check_client_message (type, msg.get ())) {
    send_error (out, conn, proto::kErrBadMessage, problem, type);
    return;
  }

  if (strcmp (type, proto::kJoinRoom) == 0) {
    join (conn, msg.get (), out);
    return;
  }
  if (!members_.count (conn)) {
    send_error (out, conn, proto::kErrNotInRoom,
        std::string (type) + " before join-room: join a room first", type);
    return;
  }
  if (strcmp (type, proto::kLeaveRoom) == 0)
    leave (conn, true, out);
  else if (strcmp (type, proto::kPeerState) == 0)
    update_state (conn, msg.get (), out);
  else
    relay (conn, type, msg.get (), text, out);
}

bool
RoomRegistry::may_log_membership ()
{
  gint64 now = config_.now_us ();
  if (now - log_window_us_ >= G_USEC_PER_SEC) {
    if (log_suppressed_)
      g_message ("%d join/leave lines not logged in the last second",
          log_suppressed_);
    log_window_us_ = now;
    log_lines_ = 0;
    log_suppressed_ = 0;
  }
  if (log_lines_ < kMembershipLogLinesPerSecond) {
    log_lines_++;
    return true;
  }
  log_suppressed_++;
  return false;
}

void
RoomRegistry::join (ConnectionId conn, JsonObject *msg,
    std::vector<Outgoing> &out)
{
  if (members_.count (conn)) {
    send_error (out, conn, proto::kErrAlreadyInRoom,
        "already in room \"" + members_.at (conn).room +
        "\": send leave-room first", proto::kJoinRoom);
    return;
  }

  std::string room = proto::get_string (msg, "roomId");
  if (!proto::is_valid_room_id (room)) {
    send_error (out, conn, proto::kErrBadRoom,
        "room id must be 1 to 64 characters of A-Z a-z 0-9 _ . -",
        proto::kJoinRoom);
    return;
  }

  const char *name_in = proto::get_string (msg, "name");
  std::string name = proto::clamp_name (name_in ? name_in : "");
  bool name_from_token = false;
  if (config_.authorize) {
    std::string token_name;
    const char *refusal =
        config_.authorize (room, proto::get_string (msg, "token"), token_name);
    if (refusal) {
      if (may_log_membership ())
        g_message ("refused join room=%s: %s", room.c_str (), refusal);
      send_error (out, conn, proto::kErrUnauthorized, refusal,
          proto::kJoinRoom);
      return;
    }
    if (!token_name.empty ()) {
      name = token_name;
      name_from_token = true;
    }
  }

  auto existing = rooms_.find (room);
  std::size_t size = existing == rooms_.end () ? 0 : existing->second.size ();
  if (size >= config_.max_room_size) {
    send_error (out, conn, proto::kErrRoomFull,
        "room \"" + room + "\" is full (" +
        std::to_string (config_.max_room_size) + " members)",
        proto::kJoinRoom);
    return;
  }
  if (size == 0 && rooms_.size () >= config_.max_rooms) {
    send_error (out, conn, proto::kErrRoomFull,
        "this server holds its maximum number of rooms", proto::kJoinRoom);
    return;
  }

  std::string id = new_peer_id ();
  std::vector<ConnectionId> &members = rooms_[room];
  std::vector<ConnectionId> others = members;
  members.push_back (conn);
  members_[conn] = Member { id, room, name, nullptr, name_from_token };
  metrics::member_joined (others.empty ());
  by_peer_id_[id] = conn;
  if (config_.membership)
    config_.membership (conn, room, id, name, true);

  proto::JsonObjectPtr joined = proto::new_message (proto::kJoined);
  json_object_set_string_member (joined.get (), "id", id.c_str ());
  json_object_set_string_member (joined.get (), "roomId", room.c_str ());
  json_object_set_array_member (joined.get (), "roomUsers", room_users (room));
  JsonArray *peers = json_array_new ();
  for (ConnectionId c : others) {
    const Member &m = members_.at (c);
    JsonObject *peer = json_object_new ();
    json_object_set_string_member (peer, "id", m.id.c_str ());
    json_object_set_string_member (peer, "name", m.name.c_str ());
    if (m.state)
      json_object_set_object_member (peer, "state",
          json_object_ref (m.state.get ()));
    else
      json_object_set_null_member (peer, "state");
    json_array_add_object_element (peers, peer);
  }
  json_object_set_array_member (joined.get (), "peers", peers);
  // A new array each time (json_node_copy would share it): per-joiner
  // entries are appended to it.
  JsonArray *ice = json_array_new ();
  JsonArray *shared = json_node_get_array (ice_servers_);
  for (guint i = 0; i < json_array_get_length (shared); i++)
    json_array_add_element (ice,
        json_node_copy (json_array_get_element (shared, i)));
  if (config_.add_ice_servers)
    config_.add_ice_servers (ice, id);
  json_object_set_array_member (joined.get (), "iceServers", ice);
  json_object_set_int_member (joined.get (), "maxRoomSize",
      config_.max_room_size);
  out.push_back ({conn, proto::to_json (joined.get ())});

  proto::JsonObjectPtr announce = proto::new_message (proto::kUserJoined);
  json_object_set_string_member (announce.get (), "from", id.c_str ());
  json_object_set_string_member (announce.get (), "name", name.c_str ());
  json_object_set_array_member (announce.get (), "roomUsers",
      room_users (room));
  std::string text = proto::to_json (announce.get ());
  for (ConnectionId c : others)
    out.push_back ({c, text});

  if (may_log_membership ())
    g_message ("join room=%s peer=%s members=%zu", room.c_str (), id.c_str (),
        members.size ());
}

void
RoomRegistry::leave (ConnectionId conn, bool reply, std::vector<Outgoing> &out)
{
  auto it = members_.find (conn);
  if (it == members_.end ())
    return;
  Member member = std::move (it->second);
  members_.erase (it);
  by_peer_id_.erase (member.id);

  std::vector<ConnectionId> &members = rooms_[member.room];
  members.erase (std::remove (members.begin (), members.end (), conn),
      members.end ());
  metrics::member_left (members.empty ());
  if (config_.membership)
    config_.membership (conn, member.room, member.id, member.name, false);

  if (reply) {
    proto::JsonObjectPtr left = proto::new_message (proto::kLeft);
    json_object_set_string_member (left.get (), "roomId", member.room.c_str ());
    out.push_back ({conn, proto::to_json (left.get ())});
  }

  proto::JsonObjectPtr gone = proto::new_message (proto::kUserDisconnected);
  json_object_set_string_member (gone.get (), "from", member.id.c_str ());
  json_object_set_array_member (gone.get (), "roomUsers",
      room_users (member.room));
  std::string text = proto::to_json (gone.get ());
  for (ConnectionId c : members)
    out.push_back ({c, text});

  if (may_log_membership ())
    g_message ("leave room=%s peer=%s members=%zu", member.room.c_str (),
        member.id.c_str (), members.size ());
  if (members.empty ())
    rooms_.erase (member.room);
}

void
RoomRegistry::disconnect (ConnectionId conn, std::vector<Outgoing> &out)
{
  buckets_.erase (conn);
  leave (conn, false, out);
}

void
RoomRegistry::relay (ConnectionId conn, const char *type, JsonObject *msg,
    std::string_view text, std::vector<Outgoing> &out)
{
  const Member &sender = members_.at (conn);
  metrics::message_relayed (type);
  if (const char *to = proto::get_string (msg, "to")) {
    auto target = by_peer_id_.find (to);
    if (target == by_peer_id_.end () || target->first == sender.id ||
        members_.at (target->second).room != sender.room) {
      send_error (out, conn, proto::kErrUnknownPeer,
          std::string ("no peer \"") + to + "\" in room \"" + sender.room +
          "\"", type);
      return;
    }
    out.push_back ({target->second, proto::stamp_from (text, sender.id)});
    return;
  }

  std::string relayed = proto::stamp_from (text, sender.id);
  for (ConnectionId c : rooms_.at (sender.room))
    if (c != conn)
      out.push_back ({c, relayed});
}

void
RoomRegistry::update_state (ConnectionId conn, JsonObject *msg,
    std::vector<Outgoing> &out)
{
  Member &sender = members_.at (conn);
  metrics::message_relayed (proto::kPeerState);
  JsonObject *state = proto::get_object (msg, "state");
  // A token's name holds for the whole membership; a name set here is cut
  // to the same length as one given at join.
  if (sender.name_from_token) {
    json_object_set_string_member (state, "name", sender.name.c_str ());
  } else if (const char *name = proto::get_string (state, "name")) {
    std::string clamped = proto::clamp_name (name);
    json_object_set_string_member (state, "name", clamped.c_str ());
  }
  // Every joiner gets every member's state: bounded, so a room's joined
  // stays small.
  if (proto::to_json (state).size () > proto::kMaxPeerStateBytes) {
    send_error (out, conn, proto::kErrBadMessage, "peer-state \"state\" is "
        "over " + std::to_string (proto::kMaxPeerStateBytes) + " bytes",
        proto::kPeerState);
    return;
  }
  if (const char *name = proto::get_string (state, "name"))
    sender.name = name;
  sender.state.reset (json_object_ref (state));

  proto::JsonObjectPtr relayed = proto::new_message (proto::kPeerState);
  json_object_set_string_member (relayed.get (), "from", sender.id.c_str ());
  json_object_set_object_member (relayed.get (), "state",
      json_object_ref (state));
  std::string text = proto::to_json (relayed.get ());
  for (ConnectionId c : rooms_.at (sender.room))
    if (c != conn)
      out.push_back ({c, text});
}

}  // namespace p2pcall::server
