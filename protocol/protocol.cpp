#include "protocol.h"

#include <cerrno>
#include <cmath>
#include <cstring>

namespace p2pcall::protocol {

namespace {

struct NodeUnref {
  void operator() (JsonNode *n) const { json_node_unref (n); }
};
using JsonNodePtr = std::unique_ptr<JsonNode, NodeUnref>;

const char *const kClientTypes[] = {
  kJoinRoom, kLeaveRoom, kOffer, kAnswer, kIceCandidate, kPeerState,
};

bool
has_string (JsonObject *obj, const char *member)
{
  return get_string (obj, member) != nullptr;
}

bool
description_is_valid (JsonObject *msg, const char *member)
{
  JsonObject *desc = get_object (msg, member);
  return desc != nullptr && has_string (desc, "sdp");
}

// Strict JSON (RFC 8259), checked before json-glib sees the text: json-glib
// also takes comments, single quotes, hex and ".5", which the server would
// then relay as written to browsers whose JSON.parse refuses them. Numbers
// must survive any JSON peer: finite, and integers within what a
// JavaScript number holds exactly (json-glib turned 1e999 into "inf.0" and
// 10^40 into -1). Nesting is bounded, so no parser recurses deep.
class StrictJson {
public:
  explicit StrictJson (std::string_view text) : text_ (text) {}

  // nullptr when @text is one strict JSON value, else why not.
  const char *check ()
  {
    skip_space ();
    if (!value (0))
      return problem_ ? problem_ : "message is not strict JSON";
    skip_space ();
    if (at_ != text_.size ())
      return "message has text after its JSON value";
    return nullptr;
  }

private:
  static constexpr int kMaxDepth = 32;

  bool fail (const char *why) { problem_ = why; return false; }
  bool more () const { return at_ < text_.size (); }
  char peek () const { return more () ? text_[at_] : '\0'; }

  void skip_space ()
  {
    while (more () && strchr (" \t\n\r", text_[at_]) && text_[at_])
      at_++;
  }

  bool literal (const char *word)
  {
    std::size_t n = strlen (word);
    if (text_.compare (at_, n, word) != 0)
      return fail ("message is not strict JSON");
    at_ += n;
    return true;
  }

  bool value (int depth)
  {
    if (depth > kMaxDepth)
      return fail ("message is nested more than 32 deep");
    switch (peek ()) {
      case '{': return container (depth, '}', true);
      case '[': return container (depth, ']', false);
      case '"': return string ();
      case 't': return literal ("true");
      case 'f': return literal ("false");
      case 'n': return literal ("null");
      default: return number ();
    }
  }

  bool container (int depth, char close, bool object)
  {
    at_++;
    skip_space ();
    if (peek () == close) {
      at_++;
      return true;
    }
    while (true) {
      if (object) {
        if (peek () != '"' || !string ())
          return fail ("message is not strict JSON (object keys are "
              "double-quoted strings)");
        skip_space ();
        if (peek () != ':')
          return fail ("message is not strict JSON");
        at_++;
        skip_space ();
      }
      if (!value (depth + 1))
        return false;
      skip_space ();
      if (peek () == close) {
        at_++;
        return true;
      }
      if (peek () != ',')
        return fail ("message is not strict JSON");
      at_++;
      skip_space ();
    }
  }

  bool string ()
  {
    for (at_++; more (); at_++) {
      unsigned char c = text_[at_];
      if (c == '"') {
        at_++;
        return true;
      }
      if (c < 0x20)
        return fail ("message has a control character in a string");
      if (c != '\\')
        continue;
      at_++;
      char e = peek ();
      if (e == 'u') {
        for (int i = 0; i < 4; i++)
          if (++at_ >= text_.size () || !g_ascii_isxdigit (text_[at_]))
            return fail ("message has a bad \\u escape");
      } else if (!e || !strchr ("\"\\/bfnrt", e)) {
        return fail ("message has a bad escape in a string");
      }
    }
    return fail ("message has an unterminated string");
  }

  bool digits ()
  {
    std::size_t start = at_;
    while (more () && g_ascii_isdigit (text_[at_]))
      at_++;
    return at_ > start;
  }

  bool number ()
  {
    std::size_t start = at_;
    bool integer = true;
    if (peek () == '-')
      at_++;
    if (peek () == '0')
      at_++;
    else if (!(peek () >= '1' && peek () <= '9') || !digits ())
      return fail ("message is not strict JSON");
    if (peek () == '.') {
      integer = false;
      at_++;
      if (!digits ())
        return fail ("message has a malformed number");
    }
    if (peek () == 'e' || peek () == 'E') {
      integer = false;
      at_++;
      if (peek () == '+' || peek () == '-')
        at_++;
      if (!digits ())
        return fail ("message has a malformed number");
    }
    std::string literal (text_.substr (start, at_ - start));
    if (integer) {
      errno = 0;
      gint64 v = g_ascii_strtoll (literal.c_str (), nullptr, 10);
      if (errno == ERANGE || v > kMaxSafeInteger || v < -kMaxSafeInteger)
        return fail ("message has an integer out of range (at most 2^53 - 1 "
            "in magnitude)");
    } else if (!std::isfinite (g_ascii_strtod (literal.c_str (), nullptr))) {
      return fail ("message has a number out of range (not a finite "
          "double)");
    }
    return true;
  }

  std::string_view text_;
  std::size_t at_ = 0;
  const char *problem_ = nullptr;
};

}  // namespace

bool
is_valid_room_id (std::string_view room)
{
  if (room.empty () || room.size () > kMaxRoomIdLength)
    return false;
  for (char c : room) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

std::string
clamp_name (std::string_view name)
{
  if (!g_utf8_validate (name.data (), name.size (), nullptr))
    return {};
  const char *start = name.data ();
  const char *p = start;
  const char *end = start + name.size ();
  for (std::size_t n = 0; p < end && n < kMaxNameLength; n++)
    p = g_utf8_next_char (p);
  return std::string (start, p - start);
}

bool
is_client_type (std::string_view type)
{
  for (const char *t : kClientTypes)
    if (type == t)
      return true;
  return false;
}

const char *
get_string (JsonObject *obj, const char *member)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : nullptr;
  if (!node || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return nullptr;
  return json_node_get_string (node);
}

bool
get_true (JsonObject *obj, const char *member)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : nullptr;
  return node && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_BOOLEAN &&
      json_node_get_boolean (node);
}

JsonObject *
get_object (JsonObject *obj, const char *member)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : nullptr;
  if (!node || !JSON_NODE_HOLDS_OBJECT (node))
    return nullptr;
  return json_node_get_object (node);
}

JsonObjectPtr
parse_message (std::string_view text, ParseError &error)
{
  error = ParseError ();
  error.code = kErrBadMessage;

  if (!g_utf8_validate (text.data (), text.size (), nullptr)) {
    error.message = "message is not valid UTF-8";
    return nullptr;
  }

  // json-glib hands strings out NUL-terminated, so an escaped NUL would
  // silently cut a room id or name short: refuse it outright.
  if (g_strstr_len (text.data (), text.size (), "\\u0000")) {
    error.message = "message contains an escaped NUL character";
    return nullptr;
  }

  if (const char *problem = StrictJson (text).check ()) {
    error.message = problem;
    return nullptr;
  }
  g_autoptr (GError) err = nullptr;
  JsonNodePtr root (json_from_string (std::string (text).c_str (), &err));
  if (!root) {
    error.message = std::string ("message is not JSON: ") +
        (err ? err->message : "empty");
    return nullptr;
  }
  if (!JSON_NODE_HOLDS_OBJECT (root.get ())) {
    error.message = "message is not a JSON object";
    return nullptr;
  }

  JsonObject *obj = json_node_get_object (root.get ());
  const char *type = get_string (obj, "type");
  if (!type) {
    error.message = "message has no string \"type\"";
    return nullptr;
  }

  error = ParseError ();
  return JsonObjectPtr (json_object_ref (obj));
}

const char *
check_client_message (const char *type, JsonObject *msg)
{
  if (strcmp (type, kJoinRoom) == 0) {
    if (!has_string (msg, "roomId"))
      return "join-room needs a string \"roomId\"";
    if (json_object_has_member (msg, "name") && !has_string (msg, "name")
        && !json_object_get_null_member (msg, "name"))
      return "\"name\" must be a string";
    if (json_object_has_member (msg, "token") && !has_string (msg, "token")
        && !json_object_get_null_member (msg, "token"))
      return "\"token\" must be a string";
    return nullptr;
  }
  if (strcmp (type, kOffer) == 0 || strcmp (type, kAnswer) == 0) {
    if (!description_is_valid (msg, type))
      return strcmp (type, kOffer) == 0 ?
          "offer needs an object \"offer\" with a string \"sdp\"" :
          "answer needs an object \"answer\" with a string \"sdp\"";
  } else if (strcmp (type, kIceCandidate) == 0) {
    JsonNode *c = json_object_get_member (msg, "candidate");
    if (!c || !(JSON_NODE_HOLDS_OBJECT (c) || JSON_NODE_HOLDS_NULL (c)))
      return "ice-candidate needs an object (or null) \"candidate\"";
  } else if (strcmp (type, kPeerState) == 0) {
    JsonObject *state = get_object (msg, "state");
    if (!state)
      return "peer-state needs an object \"state\"";
    if (const char *problem = check_peer_state (state))
      return problem;
  }
  if (json_object_has_member (msg, "to") && !has_string (msg, "to"))
    return "\"to\" must be a peer id string";
  return nullptr;
}

const char *
check_peer_state (JsonObject *state)
{
  if (json_object_get_size (state) > kMaxPeerStateMembers)
    return "peer-state \"state\" has more than 16 members";
  static const char *const booleans[] = {
    "audio", "video", "screen", kStateReceiveOnly,
  };
  for (const char *member : booleans) {
    JsonNode *node = json_object_get_member (state, member);
    if (node && !(JSON_NODE_HOLDS_VALUE (node) &&
            json_node_get_value_type (node) == G_TYPE_BOOLEAN))
      return "peer-state \"audio\", \"video\", \"screen\" and "
          "\"receiveOnly\" must be booleans";
  }
  if (json_object_has_member (state, "name") && !has_string (state, "name"))
    return "peer-state \"name\" must be a string";
  if (json_object_has_member (state, kStateClientId)) {
    const char *id = get_string (state, kStateClientId);
    if (!id || !*id || strlen (id) > kMaxClientIdLength)
      return "peer-state \"clientId\" must be a string of 1 to 64 bytes";
  }
  return nullptr;
}

namespace {

// End of the JSON string whose opening quote is at @i (just past its
// closing quote).
std::size_t
skip_string (std::string_view text, std::size_t i)
{
  for (i++; i < text.size () && text[i] != '"'; i++)
    if (text[i] == '\\')
      i++;
  return i + 1;
}

// End of the JSON value starting at @i (valid JSON assumed).
std::size_t
skip_value (std::string_view text, std::size_t i)
{
  int depth = 0;
  for (; i < text.size (); i++) {
    char c = text[i];
    if (c == '"') {
      i = skip_string (text, i) - 1;
      if (depth == 0)
        return i + 1;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (depth == 0)
        return i;
      if (--depth == 0)
        return i + 1;
    } else if (c == ',' && depth == 0) {
      return i;
    }
  }
  return i;
}

}  // namespace

std::string
stamp_from (std::string_view text, std::string_view from)
{
  std::string result = "{";
  std::size_t i = text.find ('{') + 1;
  while (i < text.size ()) {
    while (i < text.size () && (g_ascii_isspace (text[i]) || text[i] == ','))
      i++;
    if (i >= text.size () || text[i] != '"')
      break;                    // the closing brace
    std::size_t key_end = skip_string (text, i);
    std::string_view key = text.substr (i, key_end - i);
    std::size_t colon = text.find (':', key_end);
    std::size_t value_start = colon + 1;
    while (value_start < text.size () && g_ascii_isspace (text[value_start]))
      value_start++;
    std::size_t value_end = skip_value (text, value_start);
    // The key as a JSON parser reads it ("\u0066rom" is "from" too).
    bool is_from = key == "\"from\"";
    if (!is_from && key.find ('\\') != std::string_view::npos) {
      JsonNodePtr decoded (json_from_string (std::string (key).c_str (),
              nullptr));
      is_from = decoded && JSON_NODE_HOLDS_VALUE (decoded.get ()) &&
          !g_strcmp0 (json_node_get_string (decoded.get ()), "from");
    }
    if (!is_from)
      result.append (text.substr (i, value_end - i)).append (",");
    i = value_end;
  }
  return result + "\"from\":\"" + std::string (from) + "\"}";
}

std::string
to_json (JsonObject *obj)
{
  JsonNodePtr node (json_node_alloc ());
  json_node_init_object (node.get (), obj);
  g_autofree char *text = json_to_string (node.get (), FALSE);
  return text;
}

JsonObjectPtr
new_message (const char *type)
{
  JsonObjectPtr msg (json_object_new ());
  json_object_set_string_member (msg.get (), "type", type);
  return msg;
}

std::string
build_error (const char *code, std::string_view message,
    std::string_view in_reply_to)
{
  JsonObjectPtr msg = new_message (kError);
  json_object_set_string_member (msg.get (), "code", code);
  json_object_set_string_member (msg.get (), "message",
      std::string (message).c_str ());
  if (!in_reply_to.empty ())
    json_object_set_string_member (msg.get (), "inReplyTo",
        std::string (in_reply_to).c_str ());
  return to_json (msg.get ());
}

std::string
build_join (std::string_view room, std::string_view name,
    std::string_view token)
{
  JsonObjectPtr msg = new_message (kJoinRoom);
  json_object_set_string_member (msg.get (), "roomId",
      std::string (room).c_str ());
  if (!name.empty ())
    json_object_set_string_member (msg.get (), "name",
        std::string (name).c_str ());
  if (!token.empty ())
    json_object_set_string_member (msg.get (), "token",
        std::string (token).c_str ());
  return to_json (msg.get ());
}

std::string
build_leave ()
{
  return to_json (new_message (kLeaveRoom).get ());
}

std::string
build_description (const char *kind, std::string_view sdp, std::string_view to)
{
  JsonObjectPtr msg = new_message (kind);
  JsonObject *desc = json_object_new ();
  json_object_set_string_member (desc, "type", kind);
  json_object_set_string_member (desc, "sdp", std::string (sdp).c_str ());
  json_object_set_object_member (msg.get (), kind, desc);
  if (!to.empty ())
    json_object_set_string_member (msg.get (), "to", std::string (to).c_str ());
  return to_json (msg.get ());
}

std::string
build_candidate (unsigned mline_index, std::string_view mid,
    std::string_view candidate, std::string_view to)
{
  JsonObjectPtr msg = new_message (kIceCandidate);
  JsonObject *cand = json_object_new ();
  json_object_set_string_member (cand, "candidate",
      std::string (candidate).c_str ());
  if (!mid.empty ())
    json_object_set_string_member (cand, "sdpMid", std::string (mid).c_str ());
  json_object_set_int_member (cand, "sdpMLineIndex", mline_index);
  json_object_set_object_member (msg.get (), "candidate", cand);
  if (!to.empty ())
    json_object_set_string_member (msg.get (), "to", std::string (to).c_str ());
  return to_json (msg.get ());
}

std::string
build_peer_state (bool audio, bool video, std::string_view name,
    std::string_view client_id, bool receive_only)
{
  JsonObjectPtr msg = new_message (kPeerState);
  JsonObject *state = json_object_new ();
  json_object_set_boolean_member (state, "audio", audio);
  json_object_set_boolean_member (state, "video", video);
  json_object_set_boolean_member (state, "screen", FALSE);
  json_object_set_string_member (state, "name", std::string (name).c_str ());
  if (!client_id.empty ())
    json_object_set_string_member (state, kStateClientId,
        std::string (client_id).c_str ());
  if (receive_only)
    json_object_set_boolean_member (state, kStateReceiveOnly, TRUE);
  json_object_set_object_member (msg.get (), "state", state);
  return to_json (msg.get ());
}

}  // namespace p2pcall::protocol
