#include "connection_settings.h"

#include "protocol.h"

#include <gio/gio.h>
#include <gst/pbutils/missing-plugins.h>

namespace p2pcall {

namespace {

constexpr GParamFlags kReadyFlags = (GParamFlags) (G_PARAM_READWRITE |
    GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS);

std::vector<std::string>
split_addresses (const char *text)
{
  std::vector<std::string> out;
  g_auto (GStrv) parts = g_strsplit_set (text ? text : "", ", ", -1);
  for (char **p = parts; *p; p++)
    if (**p)
      out.push_back (*p);
  return out;
}

std::string
join_addresses (const std::vector<std::string> & addresses)
{
  std::string out;
  for (auto &a : addresses)
    out += (out.empty () ? "" : ",") + a;
  return out;
}

}  // namespace

GType
ice_transport_policy_get_type ()
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {ICE_TRANSPORT_POLICY_ALL, "Every candidate: direct when possible",
        "all"},
    {ICE_TRANSPORT_POLICY_RELAY, "Only TURN relay candidates: peers never "
          "learn this host's addresses", "relay"},
    {0, nullptr, nullptr}
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static (
            "GstP2pcallIceTransportPolicy", values));
  return type;
}

void
install_connection_properties (GObjectClass *klass)
{
  /**
   * GstP2pcallSink:server / GstP2pcallSrc:server:
   *
   * WebSocket URL of the p2pcall-server room endpoint.
   */
  g_object_class_install_property (klass, PROP_SERVER,
      g_param_spec_string ("server", "Server",
          "WebSocket URL of the p2pcall signalling server", kDefaultServer,
          kReadyFlags));
  /**
   * GstP2pcallSink:room / GstP2pcallSrc:room:
   *
   * Room to join: 1 to 64 characters from [A-Za-z0-9_.-]. Required.
   */
  g_object_class_install_property (klass, PROP_ROOM,
      g_param_spec_string ("room", "Room",
          "Room to join (required; 1-64 characters of A-Z a-z 0-9 _ . -)",
          nullptr, kReadyFlags));
  /**
   * GstP2pcallSink:peer-name / GstP2pcallSrc:peer-name:
   *
   * Display name shown to the other members. A p2pcallsink and a
   * p2pcallsrc of one process with the same server, room and peer-name are
   * one member of the room, sending and receiving on one peer connection
   * per remote member.
   */
  g_object_class_install_property (klass, PROP_PEER_NAME,
      g_param_spec_string ("peer-name", "Peer name",
          "Display name shown to the other members of the room; a "
          "p2pcallsink and a p2pcallsrc with the same server, room and "
          "peer-name are one member", "",
          kReadyFlags));
  /**
   * GstP2pcallSink:token / GstP2pcallSrc:token:
   *
   * Access token (HS256 JWT) for servers started with --auth-secret.
   */
  g_object_class_install_property (klass, PROP_TOKEN,
      g_param_spec_string ("token", "Token",
          "Access token for servers that require one (empty: none)", "",
          kReadyFlags));
  /**
   * GstP2pcallSink:stun-server / GstP2pcallSrc:stun-server:
   *
   * STUN server as stun://host:port; overrides what the server advertises.
   */
  g_object_class_install_property (klass, PROP_STUN_SERVER,
      g_param_spec_string ("stun-server", "STUN server",
          "STUN server (stun://host:port); empty: the one the signalling "
          "server advertises", "", kReadyFlags));
  /**
   * GstP2pcallSink:turn-server / GstP2pcallSrc:turn-server:
   *
   * TURN server as turn://user:password@host:port (both parts
   * percent-encoded); overrides what the server advertises.
   */
  g_object_class_install_property (klass, PROP_TURN_SERVER,
      g_param_spec_string ("turn-server", "TURN server",
          "TURN server (turn://user:password@host:port); empty: those the "
          "signalling server advertises", "", kReadyFlags));
  /**
   * GstP2pcallSink:ice-addresses / GstP2pcallSrc:ice-addresses:
   *
   * Comma-separated local addresses host candidates are restricted to.
   * Empty: every interface, plus 127.0.0.1 on a host that has loopback only.
   */
  g_object_class_install_property (klass, PROP_ICE_ADDRESSES,
      g_param_spec_string ("ice-addresses", "ICE addresses",
          "Comma-separated local IP addresses to gather host candidates on "
          "(empty: all; 127.0.0.1 when the host has loopback only)", "",
          kReadyFlags));
  /**
   * GstP2pcallSink:stats / GstP2pcallSrc:stats:
   *
   * A structure "application/x-p2pcall-stats" with one "p2pcall-peer-stats"
   * structure per peer connection: peer-id, client-id, state (the
   * connection state's nick), bitrate (bits/s since the previous reading),
   * bytes, round-trip-time (seconds, -1 unknown), packets-lost,
   * fraction-lost, retransmitted-packets-sent and
   * retransmitted-packets-received (video packets sent again on request,
   * RTX), local-candidate-types (the kinds of local candidate
   * gathered, comma-separated: "relay" alone when only TURN is used). A
   * p2pcallsink and a p2pcallsrc that are one member report the same peers.
   */
  g_object_class_install_property (klass, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Per-peer connection statistics from webrtcbin", GST_TYPE_STRUCTURE,
          (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  /**
   * GstP2pcallSink:ca-file / GstP2pcallSrc:ca-file:
   *
   * PEM file of the certificate authorities a wss:// server's certificate
   * must chain to, instead of the system's. Empty: the system's.
   */
  g_object_class_install_property (klass, PROP_CA_FILE,
      g_param_spec_string ("ca-file", "CA file",
          "PEM file with the CA certificates that wss:// servers are "
          "verified against (empty: the system's)", "", kReadyFlags));
  /**
   * GstP2pcallSink:ice-transport-policy / GstP2pcallSrc:ice-transport-policy:
   *
   * "relay" sends media only through TURN servers (those the signalling
   * server hands out, or turn-server), so peers never see this host's
   * addresses; "all" (the default) prefers direct paths.
   */
  g_object_class_install_property (klass, PROP_ICE_TRANSPORT_POLICY,
      g_param_spec_enum ("ice-transport-policy", "ICE transport policy",
          "Which ICE candidates to use: all, or relay (TURN only)",
          ice_transport_policy_get_type (), ICE_TRANSPORT_POLICY_ALL,
          kReadyFlags));
  gst_type_mark_as_plugin_api (ice_transport_policy_get_type (),
      (GstPluginAPIFlags) 0);
}

bool
set_connection_property (SessionConfig &config, guint prop_id,
    const GValue *value)
{
  const char *s = G_VALUE_HOLDS_STRING (value) ?
      g_value_get_string (value) : nullptr;
  switch (prop_id) {
    case PROP_SERVER:
      config.server = s ? s : kDefaultServer;
      return true;
    case PROP_ROOM:
      config.room = s ? s : "";
      return true;
    case PROP_PEER_NAME:
      config.peer_name = s ? s : "";
      return true;
    case PROP_TOKEN:
      config.token = s ? s : "";
      return true;
    case PROP_STUN_SERVER:
      config.stun_server = s ? s : "";
      return true;
    case PROP_TURN_SERVER:
      config.turn_server = s ? s : "";
      return true;
    case PROP_ICE_ADDRESSES:
      config.ice_addresses = split_addresses (s);
      return true;
    case PROP_CA_FILE:
      config.ca_file = s ? s : "";
      return true;
    case PROP_ICE_TRANSPORT_POLICY:
      config.relay_only =
          g_value_get_enum (value) == ICE_TRANSPORT_POLICY_RELAY;
      return true;
    default:
      return false;
  }
}

bool
get_connection_property (const SessionConfig &config, guint prop_id,
    GValue *value)
{
  switch (prop_id) {
    case PROP_SERVER:
      g_value_set_string (value, config.server.c_str ());
      return true;
    case PROP_ROOM:
      g_value_set_string (value, config.room.empty () ? nullptr :
          config.room.c_str ());
      return true;
    case PROP_PEER_NAME:
      g_value_set_string (value, config.peer_name.c_str ());
      return true;
    case PROP_TOKEN:
      g_value_set_string (value, config.token.c_str ());
      return true;
    case PROP_STUN_SERVER:
      g_value_set_string (value, config.stun_server.c_str ());
      return true;
    case PROP_TURN_SERVER:
      g_value_set_string (value, config.turn_server.c_str ());
      return true;
    case PROP_ICE_ADDRESSES:
      g_value_set_string (value, join_addresses (config.ice_addresses).c_str ());
      return true;
    case PROP_CA_FILE:
      g_value_set_string (value, config.ca_file.c_str ());
      return true;
    case PROP_ICE_TRANSPORT_POLICY:
      g_value_set_enum (value, config.relay_only ?
          ICE_TRANSPORT_POLICY_RELAY : ICE_TRANSPORT_POLICY_ALL);
      return true;
    default:
      return false;
  }
}

bool
check_connection_settings (GstElement *element, const SessionConfig &config)
{
  if (config.room.empty ()) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("No room given: set the \"room\" property."), (nullptr));
    return false;
  }
  if (!protocol::is_valid_room_id (config.room)) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("Invalid room name '%s': a room is 1 to 64 characters from "
            "A-Z a-z 0-9 _ . -", config.room.c_str ()), (nullptr));
    return false;
  }
  if (!config.ca_file.empty ()) {
    g_autoptr (GError) err = nullptr;
    g_autoptr (GTlsDatabase) database = g_tls_file_database_new (
        config.ca_file.c_str (), &err);
    if (!database) {
      GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
          ("Cannot use ca-file '%s': %s", config.ca_file.c_str (),
              err->message), (nullptr));
      return false;
    }
  }
  return true;
}

bool
check_factories (GstElement *element,
    std::initializer_list<const char *> factories)
{
  bool ok = true;
  for (const char *name : factories) {
    g_autoptr (GstElementFactory) factory = gst_element_factory_find (name);
    if (factory)
      continue;
    gst_element_post_message (element,
        gst_missing_element_message_new (element, name));
    GST_ELEMENT_ERROR (element, CORE, MISSING_PLUGIN,
        ("The GStreamer element '%s' is missing: check your GStreamer "
            "installation.", name), (nullptr));
    ok = false;
  }
  return ok;
}

}  // namespace p2pcall
