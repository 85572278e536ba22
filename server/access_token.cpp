#include "access_token.h"
#include "protocol.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <jwt.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace p2pcall::server {

namespace proto = p2pcall::protocol;

namespace {

struct JwtFree {
  void operator() (jwt_t *jwt) const { jwt_free (jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

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

// A time claim: absent is fine, anything but whole seconds is not.
bool
read_time_claim (JsonObject *claims, const char *member, bool &present,
    std::int64_t &value)
{
  JsonNode *node = json_object_get_member (claims, member);
  present = node != nullptr;
  if (!node)
    return true;
  if (json_node_get_value_type (node) != G_TYPE_INT64)
    return false;
  value = json_node_get_int (node);
  return true;
}

bool
audience_matches (JsonObject *claims, const std::string &audience)
{
  JsonNode *aud = json_object_get_member (claims, "aud");
  if (!aud)
    return false;
  if (JSON_NODE_HOLDS_VALUE (aud))
    return g_strcmp0 (json_node_get_string (aud), audience.c_str ()) == 0;
  if (!JSON_NODE_HOLDS_ARRAY (aud))
    return false;
  JsonArray *list = json_node_get_array (aud);
  for (guint i = 0; i < json_array_get_length (list); i++) {
    JsonNode *item = json_array_get_element (list, i);
    if (JSON_NODE_HOLDS_VALUE (item) &&
        g_strcmp0 (json_node_get_string (item), audience.c_str ()) == 0)
      return true;
  }
  return false;
}

const char *
check_claims (const TokenPolicy &policy, JsonObject *claims,
    const std::string &room, std::int64_t now_unix, std::string &name)
{
  bool present = false;
  std::int64_t exp = 0, nbf = 0, iat = 0;
  if (!read_time_claim (claims, "exp", present, exp) || !present)
    return "the access token has no expiry (exp)";
  if (exp <= now_unix)
    return "the access token has expired";
  if (policy.max_lifetime > 0 && exp - now_unix > policy.max_lifetime)
    return "the access token expires further ahead than --max-token-lifetime "
        "allows";
  if (!read_time_claim (claims, "nbf", present, nbf))
    return "the access token's nbf is not a number of seconds";
  if (present && nbf > now_unix + kClockSkewSeconds)
    return "the access token is not valid yet (nbf)";
  if (!read_time_claim (claims, "iat", present, iat))
    return "the access token's iat is not a number of seconds";
  if (present && iat > now_unix + kClockSkewSeconds)
    return "the access token was issued in the future (iat)";
  if (!policy.audience.empty () && !audience_matches (claims,
          policy.audience))
    return "the access token is for another audience (aud)";
  const char *token_room = proto::get_string (claims, "room");
  if (!token_room || (g_strcmp0 (token_room, "*") && room != token_room))
    return "the access token is for another room";
  if (const char *token_name = proto::get_string (claims, "name"))
    name = proto::clamp_name (token_name);
  return nullptr;
}

}  // namespace

std::string
make_access_token (std::string_view secret, std::string_view room,
    std::int64_t expires_unix, std::string_view name, std::int64_t issued_unix)
{
  jwt_t *raw = nullptr;
  if (jwt_new (&raw) != 0)
    return "";
  JwtPtr jwt (raw);
  jwt_add_grant (jwt.get (), "room", std::string (room).c_str ());
  jwt_add_grant_int (jwt.get (), "exp", (long) expires_unix);
  if (issued_unix > 0)
    jwt_add_grant_int (jwt.get (), "iat", (long) issued_unix);
  if (!name.empty ())
    jwt_add_grant (jwt.get (), "name", std::string (name).c_str ());
  jwt_set_alg (jwt.get (), JWT_ALG_HS256, (const unsigned char *) secret.data (),
      (int) secret.size ());
  char *text = jwt_encode_str (jwt.get ());
  std::string token = text ? text : "";
  free (text);
  return token;
}

const char *
check_access_token (const TokenPolicy &policy, const char *token,
    const std::string &room, std::int64_t now_unix, std::string &name)
{
  if (!token || !*token)
    return "this server needs an access token to join a room";

  // The header is read before any key is touched: the server's
  // configuration decides which algorithm and key apply, never the token
  // (HS256 "signed" with the public key as its secret, alg none, keys
  // fetched from a URL the token names are the classic forgeries).
  std::string_view t (token);
  proto::JsonObjectPtr header = decode_json_part (t.substr (0, t.find ('.')));
  if (!header)
    return "the access token is malformed";
  for (const char *key_source : {"jku", "x5u", "jwk", "x5c", "crit"}) {
    if (json_object_has_member (header.get (), key_source))
      return "the access token's header has jku, x5u, jwk, x5c or crit: "
          "keys come from this server's configuration only";
  }
  const char *alg = proto::get_string (header.get (), "alg");
  const std::string *key = nullptr;
  jwt_alg_t expected = JWT_ALG_INVAL;
  if (g_strcmp0 (alg, "HS256") == 0) {
    if (policy.secret.empty ())
      return "the access token is HS256 but this server only has a public key";
    key = &policy.secret;
    expected = JWT_ALG_HS256;
  } else if (g_strcmp0 (alg, "RS256") == 0 || g_strcmp0 (alg, "ES256") == 0) {
    if (policy.public_key_pem.empty ())
      return "the access token is signed with a private key (RS256/ES256) but "
          "this server only has a secret";
    key = &policy.public_key_pem;
    expected = g_strcmp0 (alg, "RS256") == 0 ? JWT_ALG_RS256 : JWT_ALG_ES256;
  } else {
    return "the access token's algorithm is not HS256, RS256 or ES256";
  }

  jwt_t *raw = nullptr;
  if (jwt_decode (&raw, token, (const unsigned char *) key->data (),
          (int) key->size ()) != 0)
    return "the access token's signature is not valid";
  JwtPtr jwt (raw);
  if (jwt_get_alg (jwt.get ()) != expected)
    return "the access token's algorithm changed between reading and checking";

  char *claims_text = jwt_get_grants_json (jwt.get (), nullptr);
  g_autoptr (JsonParser) parser = json_parser_new ();
  bool parsed = claims_text &&
      json_parser_load_from_data (parser, claims_text, -1, nullptr);
  free (claims_text);
  JsonNode *root = parsed ? json_parser_get_root (parser) : nullptr;
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    return "the access token is malformed";
  return check_claims (policy, json_node_get_object (root), room, now_unix,
      name);
}

const char *
check_access_token (std::string_view secret, const char *token,
    const std::string &room, std::int64_t now_unix, std::string &name)
{
  TokenPolicy policy;
  policy.secret = secret;
  return check_access_token (policy, token, room, now_unix, name);
}

bool
load_public_key (const std::string &path, std::string &pem, std::string &error)
{
  g_autofree char *contents = nullptr;
  g_autoptr (GError) err = nullptr;
  if (!g_file_get_contents (path.c_str (), &contents, nullptr, &err)) {
    error = "cannot read --auth-public-key: " + std::string (err->message);
    return false;
  }
  if (strstr (contents, "PRIVATE KEY-----")) {
    error = "--auth-public-key \"" + path + "\" holds a private key: give "
        "the server only the public one (openssl pkey -in KEY -pubout)";
    return false;
  }
  if (!strstr (contents, "-----BEGIN PUBLIC KEY-----")) {
    error = "--auth-public-key \"" + path + "\" holds no PEM public key "
        "(-----BEGIN PUBLIC KEY-----, RSA or EC P-256)";
    return false;
  }
  pem = contents;
  return true;
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
