// The p2pcall room protocol in C++: message and error names, validation,
// parsing and building. Shared by p2pcall-server and the GStreamer elements;
// described in protocol/PROTOCOL.md, mirrored for the page in web/protocol.js.
#pragma once

#include <json-glib/json-glib.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace p2pcall::protocol {

// Client -> server
inline constexpr const char kJoinRoom[] = "join-room";
inline constexpr const char kLeaveRoom[] = "leave-room";
inline constexpr const char kOffer[] = "offer";
inline constexpr const char kAnswer[] = "answer";
inline constexpr const char kIceCandidate[] = "ice-candidate";
inline constexpr const char kPeerState[] = "peer-state";

// Server -> client (offer, answer, ice-candidate and peer-state come back relayed)
inline constexpr const char kJoined[] = "joined";
inline constexpr const char kUserJoined[] = "user-joined";
inline constexpr const char kUserDisconnected[] = "user-disconnected";
inline constexpr const char kLeft[] = "left";
inline constexpr const char kError[] = "error";

// Error codes
inline constexpr const char kErrBadMessage[] = "bad-message";
inline constexpr const char kErrUnknownType[] = "unknown-type";
inline constexpr const char kErrBadRoom[] = "bad-room";
inline constexpr const char kErrNotInRoom[] = "not-in-room";
inline constexpr const char kErrAlreadyInRoom[] = "already-in-room";
inline constexpr const char kErrRoomFull[] = "room-full";
inline constexpr const char kErrUnknownPeer[] = "unknown-peer";
inline constexpr const char kErrUnauthorized[] = "unauthorized";
inline constexpr const char kErrRateLimited[] = "rate-limited";

// WebSocket close codes used by the server
inline constexpr unsigned short kCloseNormal = 1000;
inline constexpr unsigned short kCloseGoingAway = 1001;
inline constexpr unsigned short kCloseTooBig = 1009;
// A member that does not read what is sent to it (policy violation).
inline constexpr unsigned short kCloseNotReading = 1008;

// Member of a peer-state "state" object: a random id a client keeps across
// reconnections, so that peers can tell a rejoining member from a new one.
inline constexpr const char kStateClientId[] = "clientId";
// Member of a peer-state "state" object, true for a member that sends
// nothing and never will without saying so (a GStreamer receiver): two such
// members make no peer connection (PROTOCOL.md "Who offers").
inline constexpr const char kStateReceiveOnly[] = "receiveOnly";

inline constexpr std::size_t kMaxRoomIdLength = 64;
inline constexpr std::size_t kMaxNameLength = 64;
inline constexpr std::size_t kPeerIdLength = 8;
// Largest integer a JavaScript number holds exactly: integers beyond it
// (and non-finite numbers) are refused with bad-message.
inline constexpr gint64 kMaxSafeInteger = (G_GINT64_CONSTANT (1) << 53) - 1;
// peer-state "state": at most this many members, and this many bytes as
// JSON; known members must have their documented types.
inline constexpr std::size_t kMaxPeerStateMembers = 16;
inline constexpr std::size_t kMaxPeerStateBytes = 1024;
inline constexpr std::size_t kMaxClientIdLength = 64;

struct JsonObjectUnref {
  void operator() (JsonObject *o) const { json_object_unref (o); }
};
using JsonObjectPtr = std::unique_ptr<JsonObject, JsonObjectUnref>;

// True for 1..64 characters of [A-Za-z0-9_.-].
bool is_valid_room_id (std::string_view room);

// Cuts a display name to kMaxNameLength characters without splitting UTF-8;
// invalid UTF-8 becomes an empty name.
std::string clamp_name (std::string_view name);

// True for one of the types a client may send.
bool is_client_type (std::string_view type);

struct ParseError {
  const char *code = nullptr;
  std::string message;
  std::string type;             // the message's type when it had one
};

// Parses one text frame into a JSON object with a string "type" member.
// On failure returns nullptr and fills @error with a bad-message error.
JsonObjectPtr parse_message (std::string_view text, ParseError & error);

// Checks the fields a client -> server message of a known type must carry
// (PROTOCOL.md). Returns nullptr when valid, else a static explanation.
const char *check_client_message (const char *type, JsonObject * msg);

// The documented shape of a peer-state "state" (PROTOCOL.md): nullptr when
// it has it, else the explanation. Its size is the server's to check, after
// it has cut the name.
const char *check_peer_state (JsonObject * state);

// A relayed message: the sender's @text (a valid JSON object) with its
// members exactly as written, any "from" of its own left out, and
// "from": @from added last. Nothing is re-serialised, so every value
// reaches the receiver as sent.
std::string stamp_from (std::string_view text, std::string_view from);

// Serialises an object to compact JSON.
std::string to_json (JsonObject * obj);

// Builders for the messages both clients and the server send.
JsonObjectPtr new_message (const char *type);
// @in_reply_to: the refused message's type, when known.
std::string build_error (const char *code, std::string_view message,
    std::string_view in_reply_to = {});
std::string build_join (std::string_view room, std::string_view name,
    std::string_view token);
std::string build_leave ();
// @kind is kOffer or kAnswer. Empty @to broadcasts to the room.
std::string build_description (const char *kind, std::string_view sdp,
    std::string_view to);
// mline/candidate as webrtcbin reports them. An empty @mid is left out:
// browsers then match the candidate by its m-line index alone.
std::string build_candidate (unsigned mline_index, std::string_view mid,
    std::string_view candidate, std::string_view to);
// @client_id: the sender's stable "clientId" (see PROTOCOL.md), left out when
// empty; "receiveOnly" is there only when @receive_only.
std::string build_peer_state (bool audio, bool video, std::string_view name,
    std::string_view client_id = {}, bool receive_only = false);

// Accessors that tolerate a missing or wrong-typed member.
const char *get_string (JsonObject * obj, const char *member);
// False unless @member is the boolean true.
bool get_true (JsonObject * obj, const char *member);
JsonObject *get_object (JsonObject * obj, const char *member);

}  // namespace p2pcall::protocol
