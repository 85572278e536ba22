#include "ice_servers.h"

#include <json-glib/json-glib.h>

namespace p2pcall::server {

const char *const kDefaultIceServers[2] = {
  "stun:stun.l.google.com:19302",
  "stun:stun1.l.google.com:19302",
};

namespace {

bool
has_prefix (const std::string &s, const char *prefix)
{
  return g_str_has_prefix (s.c_str (), prefix);
}

// One URL as an RTCIceServer object, or nullptr with @error set.
JsonObject *
ice_server (const std::string &url, std::string &error)
{
  JsonObject *server = json_object_new ();
  if (has_prefix (url, "turn://") || has_prefix (url, "turns://")) {
    g_autoptr (GError) err = nullptr;
    g_autoptr (GUri) uri = g_uri_parse (url.c_str (),
        (GUriFlags) (G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED_QUERY),
        &err);
    const char *user = uri ? g_uri_get_user (uri) : nullptr;
    const char *password = uri ? g_uri_get_password (uri) : nullptr;
    if (!uri || !g_uri_get_host (uri) || !user || !password) {
      error = "--ice-server \"" + url +
          "\": expected turn://USER:PASSWORD@HOST[:PORT]";
      json_object_unref (server);
      return nullptr;
    }
    std::string plain = std::string (g_uri_get_scheme (uri)) + ":" +
        g_uri_get_host (uri);
    if (g_uri_get_port (uri) > 0)
      plain += ":" + std::to_string (g_uri_get_port (uri));
    if (g_uri_get_query (uri))
      plain += std::string ("?") + g_uri_get_query (uri);
    json_object_set_string_member (server, "urls", plain.c_str ());
    json_object_set_string_member (server, "username", user);
    json_object_set_string_member (server, "credential", password);
    return server;
  }
  bool known = has_prefix (url, "stun:") || has_prefix (url, "stuns:") ||
      has_prefix (url, "turn:") || has_prefix (url, "turns:");
  std::size_t colon = url.find (':');
  if (!known || colon + 1 >= url.size () || url.find (' ') != std::string::npos) {
    error = "--ice-server \"" + url +
        "\": expected stun:HOST[:PORT], turn:HOST[:PORT] or "
        "turn://USER:PASSWORD@HOST[:PORT]";
    json_object_unref (server);
    return nullptr;
  }
  json_object_set_string_member (server, "urls", url.c_str ());
  return server;
}

}  // namespace

bool
ice_servers_to_json (const std::vector<std::string> &urls, std::string &json,
    std::string &error)
{
  JsonArray *array = json_array_new ();
  bool none = urls.size () == 1 && urls[0] == "none";
  for (const std::string &url : none ? std::vector<std::string> () : urls) {
    JsonObject *server = ice_server (url, error);
    if (!server) {
      json_array_unref (array);
      return false;
    }
    json_array_add_object_element (array, server);
  }
  JsonNode *node = json_node_init_array (json_node_alloc (), array);
  json_array_unref (array);
  g_autofree char *text = json_to_string (node, FALSE);
  json_node_unref (node);
  json = text;
  return true;
}

std::string
turn_rest_username (std::int64_t expires_unix, const std::string &name)
{
  return std::to_string (expires_unix) + ":" + name;
}

std::string
turn_rest_password (const std::string &secret, const std::string &username)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1,
      (const guchar *) secret.data (), secret.size ());
  g_hmac_update (hmac, (const guchar *) username.data (), username.size ());
  guint8 digest[20];
  gsize len = sizeof (digest);
  g_hmac_get_digest (hmac, digest, &len);
  g_autofree char *b64 = g_base64_encode (digest, len);
  return b64;
}

}  // namespace p2pcall::server
