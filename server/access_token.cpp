#include "access_token.h"
#include "protocol.h"

#include <glib.h>
#include <json-glib/json-glib.h>

namespace p2pcall::server {

namespace proto = p2pcall::protocol;

namespace {

std::string
base64url (const guchar *data, gsize size)
{
  g_autofree char *b64 = g_base64_encode (data, size);
  std::string out;
  for (const char *p = b64; *p; p++) {
    if (*p == '+')
      out += '-';
    else if (*p == '/')
      out += '_';
    else if (*p != '=')
      out += *p;
  }
  return out;
}

bool
base64url_decode (std::string_view in, std::string &out)
{
  std::string b64;
  for (char c : in) {
    if (c == '-')
      b64 += '+';
    else if (c == '_')
      b64 += '/';
    else if (g_ascii_isalnum (c))
      b64 += c;
    else
      return false;
  }
  if (b64.size () % 4 == 1)
    return false;
  while (b64.size () % 4)
    b64 += '=';
  gsize len = 0;
  g_autofree guchar *data = g_base64_decode (b64.c_str (), &len);
  out.assign ((const char *) data, len);
  return true;
}

std::string
sign (std::string_view secret, std::string_view signing_input)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256,
      (const guchar *) secret.data (), secret.size ());
  g_hmac_update (hmac, (const guchar *) signing_input.data (),
      signing_input.size ());
  guint8 digest[32];
  gsize len = sizeof (digest);
  g_hmac_get_digest (hmac, digest, &len);
  return base64url (digest, len);
}

bool
equal_constant_time (std::string_view a, std::string_view b)
{
  if (a.size () != b.size ())
    return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size (); i++)
    diff |= (unsigned char) (a[i] ^ b[i]);
  return diff == 0;
}

proto::JsonObjectPtr
decode_json_part (std::string_view part)
{
  std::string text;
  if (!base64url_decode (part, text))
    return nullptr;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text.data (), text.size (), nullptr))
    return nullptr;
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    return nullptr;
  return proto::JsonObjectPtr (json_object_ref (json_node_get_object (root)));
}

}  // namespace

std::string
make_access_token (std::string_view secret, std::string_view room,
    std::int64_t expires_unix, std::string_view name)
{
  static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  JsonObject *claims = json_object_new ();
  json_object_set_string_member (claims, "room", std::string (room).c_str ());
  json_object_set_int_member (claims, "exp", expires_unix);
  if (!name.empty ())
    json_object_set_string_member (claims, "name", std::string (name).c_str ());
  std::string payload = proto::to_json (claims);
  json_object_unref (claims);

  std::string input = base64url ((const guchar *) header, sizeof (header) - 1) +
      "." + base64url ((const guchar *) payload.data (), payload.size ());
  return input + "." + sign (secret, input);
}

const char *
check_access_token (std::string_view secret, const char *token,
    const std::string &room, std::int64_t now_unix, std::string &name)
{
  if (!token || !*token)
    return "this server needs an access token to join a room";
  std::string_view t (token);
  std::size_t dot1 = t.find ('.');
  std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : t.find ('.', dot1 + 1);
  if (dot2 == std::string_view::npos)
    return "the access token is malformed";

  proto::JsonObjectPtr header = decode_json_part (t.substr (0, dot1));
  if (!header || g_strcmp0 (proto::get_string (header.get (), "alg"), "HS256"))
    return "the access token is not an HS256 token";
  if (!equal_constant_time (sign (secret, t.substr (0, dot2)),
          t.substr (dot2 + 1)))
    return "the access token's signature is not valid";

  proto::JsonObjectPtr claims =
      decode_json_part (t.substr (dot1 + 1, dot2 - dot1 - 1));
  if (!claims)
    return "the access token is malformed";
  JsonNode *exp = json_object_get_member (claims.get (), "exp");
  if (!exp || json_node_get_value_type (exp) != G_TYPE_INT64)
    return "the access token has no expiry";
  if (json_node_get_int (exp) <= now_unix)
    return "the access token has expired";
  const char *token_room = proto::get_string (claims.get (), "room");
  if (!token_room || (g_strcmp0 (token_room, "*") && room != token_room))
    return "the access token is for another room";
  if (const char *token_name = proto::get_string (claims.get (), "name"))
    name = proto::clamp_name (token_name);
  return nullptr;
}

std::int64_t
parse_duration (std::string_view text)
{
  if (text.empty ())
    return -1;
  std::int64_t unit = 1;
  switch (text.back ()) {
    case 's': unit = 1; text.remove_suffix (1); break;
    case 'm': unit = 60; text.remove_suffix (1); break;
    case 'h': unit = 3600; text.remove_suffix (1); break;
    case 'd': unit = 86400; text.remove_suffix (1); break;
    default: break;
  }
  if (text.empty () || text.size () > 9)
    return -1;
  std::int64_t value = 0;
  for (char c : text) {
    if (!g_ascii_isdigit (c))
      return -1;
    value = value * 10 + (c - '0');
  }
  return value * unit;
}

}  // namespace p2pcall::server
