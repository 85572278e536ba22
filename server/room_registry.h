// Rooms and their members: the whole message handling of p2pcall-server,
// with no sockets in it. SignallingServer feeds it frames and sends what it
// returns, so the logic can be unit-tested and fuzzed on its own.
#pragma once

#include "protocol.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace p2pcall::server {

using ConnectionId = std::uint64_t;

struct Outgoing {
  ConnectionId to;
  std::string text;
};

// Limits with their one definition; main.cpp exposes them as options.
inline constexpr std::size_t kDefaultMaxRoomSize = 8;
inline constexpr std::size_t kDefaultMaxRooms = 10000;
// A connection may send this many messages a second on average, in bursts
// of up to kDefaultBurst (the first seconds of a mesh call trickle many ICE
// candidates).
inline constexpr double kDefaultMessagesPerSecond = 50;
inline constexpr double kDefaultBurst = 200;
// Join and leave log lines a second; the rest are counted and the count
// logged (a reconnect storm would otherwise flood the journal).
inline constexpr int kMembershipLogLinesPerSecond = 20;

struct RegistryConfig {
  std::size_t max_room_size = kDefaultMaxRoomSize;
  std::size_t max_rooms = kDefaultMaxRooms;
  // The `iceServers` array every joiner gets, as a JSON array text.
  std::string ice_servers_json = "[]";
  // Decides whether a join may go ahead. Returns nullptr to allow it, else
  // the refusal message (code `unauthorized`); may replace the name.
  std::function<const char *(const std::string & room, const char *token,
      std::string & name)> authorize;
  // Adds per-joiner entries (TURN credentials) to the `iceServers` a new
  // member gets.
  std::function<void (JsonArray * ice_servers, const std::string & peer_id)>
      add_ice_servers;
  // Told of each join (@joined true) and leave: the call history listens.
  std::function<void (ConnectionId conn, const std::string & room,
      const std::string & peer_id, const std::string & name, bool joined)>
      membership;
  double messages_per_second = kDefaultMessagesPerSecond;
  double burst = kDefaultBurst;
  // Monotonic clock in microseconds; tests replace it.
  std::function<gint64 ()> now_us = g_get_monotonic_time;
};

class RoomRegistry {
public:
  explicit RoomRegistry (RegistryConfig config);
  ~RoomRegistry ();
  RoomRegistry (const RoomRegistry &) = delete;
  RoomRegistry & operator= (const RoomRegistry &) = delete;

  // One text frame from @conn; appends what to send to @out.
  void handle_text (ConnectionId conn, std::string_view text,
      std::vector<Outgoing> & out);
  // A binary frame from @conn (refused).
  void handle_binary (ConnectionId conn, std::vector<Outgoing> & out);
  // @conn closed or stopped answering: it leaves its room. Safe to repeat.
  void disconnect (ConnectionId conn, std::vector<Outgoing> & out);

  std::size_t room_count () const { return rooms_.size (); }
  std::size_t member_count () const { return members_.size (); }
  // The peer id of @conn, empty when it is in no room.
  std::string peer_id (ConnectionId conn) const;

private:
  struct Member {
    std::string id;
    std::string room;
    std::string name;
    protocol::JsonObjectPtr state;    // last peer-state, may be null
    // The name came from the access token: no peer-state replaces it.
    bool name_from_token = false;
  };

  struct Bucket {
    double tokens;
    gint64 refilled_us;
    gint64 last_refusal_us;
  };

  // Token bucket: false when @conn is over its rate; the refusal is sent
  // at most once a second so a flood does not get a flood back.
  bool take_token (ConnectionId conn, std::vector<Outgoing> & out);
  void join (ConnectionId conn, JsonObject * msg, std::vector<Outgoing> & out);
  void leave (ConnectionId conn, bool reply, std::vector<Outgoing> & out);
  void relay (ConnectionId conn, const char *type, JsonObject * msg,
      std::string_view text, std::vector<Outgoing> & out);
  // True when a join/leave line may be logged now.
  bool may_log_membership ();
  void update_state (ConnectionId conn, JsonObject * msg,
      std::vector<Outgoing> & out);
  std::string new_peer_id () const;
  JsonArray *room_users (const std::string & room) const;

  RegistryConfig config_;
  JsonNode *ice_servers_ = nullptr;
  // Connections that are in a room, and the rooms' members in join order.
  std::unordered_map<ConnectionId, Member> members_;
  std::unordered_map<std::string, std::vector<ConnectionId>> rooms_;
  std::unordered_map<std::string, ConnectionId> by_peer_id_;
  std::unordered_map<ConnectionId, Bucket> buckets_;
  gint64 log_window_us_ = 0;
  int log_lines_ = 0;
  int log_suppressed_ = 0;
};

}  // namespace p2pcall::server
