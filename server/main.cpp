// p2pcall-server: the room signalling server that also serves the call page.
#include "access_token.h"
#include "ice_servers.h"
#include "signalling_server.h"

#include <glib-unix.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>

using namespace p2pcall::server;

namespace {

// Run from the build tree, the page comes from the source tree, so edits to
// web/ show without an install.
std::string
default_web_root ()
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", nullptr);
  g_autofree char *dir = exe ? g_path_get_dirname (exe) : nullptr;
  if (dir && g_strcmp0 (dir, P2PCALL_BUILD_SERVER_DIR) == 0)
    return P2PCALL_SOURCE_WEB_ROOT;
  return P2PCALL_INSTALLED_WEB_ROOT;
}

const char *
env_or (const char *name, const char *fallback)
{
  const char *value = g_getenv (name);
  return value && *value ? value : fallback;
}

// GOption replaces a string option's pointer without freeing what was
// there, so string defaults are filled in after parsing (no leak).
void
set_default (char *&option, const char *fallback)
{
  if (!option && fallback)
    option = g_strdup (fallback);
}

bool
parse_count (const char *text, guint64 min, guint64 max, guint64 &out)
{
  g_autoptr (GError) err = nullptr;
  return g_ascii_string_to_unsigned (text, 10, min, max, &out, &err);
}

// Every member holds a socket: use all the descriptors the system allows
// (soft limits are often 1024, hard ones far higher).
void
raise_descriptor_limit ()
{
  struct rlimit limit;
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit (RLIMIT_NOFILE, &limit);
  }
}

// `p2pcall-server token --room R --ttl 1h [--name N]`: prints a token.
int
token_command (int argc, char **argv)
{
  g_autofree char *secret = nullptr;
  g_autofree char *room = nullptr;
  g_autofree char *ttl = nullptr;
  g_autofree char *name = nullptr;
  GOptionEntry entries[] = {
    {"auth-secret", 0, 0, G_OPTION_ARG_STRING, &secret,
        "The server's secret (better: env P2PCALL_AUTH_SECRET)", "SECRET"},
    {"room", 0, 0, G_OPTION_ARG_STRING, &room, "Room id, or * for any", "ROOM"},
    {"ttl", 0, 0, G_OPTION_ARG_STRING, &ttl,
        "How long it is valid: 90s, 15m, 1h, 7d (default 1h)", "DURATION"},
    {"name", 0, 0, G_OPTION_ARG_STRING, &name,
        "Display name its holder gets", "NAME"},
    {nullptr}
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- print a room access token");
  g_option_context_add_main_entries (context, entries, nullptr);
  g_autoptr (GError) err = nullptr;
  if (!g_option_context_parse (context, &argc, &argv, &err)) {
    g_printerr ("p2pcall-server token: %s\n", err->message);
    return 2;
  }
  set_default (secret, g_getenv ("P2PCALL_AUTH_SECRET"));
  set_default (ttl, "1h");
  if (!secret || !*secret) {
    g_printerr ("p2pcall-server token: no secret: set P2PCALL_AUTH_SECRET or "
        "--auth-secret\n");
    return 2;
  }
  if (!room || (g_strcmp0 (room, "*") != 0 &&
          !p2pcall::protocol::is_valid_room_id (room))) {
    g_printerr ("p2pcall-server token: --room \"%s\" is not a room id (1 to 64 "
        "of A-Z a-z 0-9 _ . -) or *\n", room ? room : "");
    return 2;
  }
  std::int64_t seconds = parse_duration (ttl);
  if (seconds <= 0) {
    g_printerr ("p2pcall-server token: --ttl \"%s\" is not a duration such as "
        "90s, 15m, 1h or 7d\n", ttl);
    return 2;
  }
  g_print ("%s\n", make_access_token (secret, room,
          g_get_real_time () / G_USEC_PER_SEC + seconds,
          name ? name : "").c_str ());
  return 0;
}

}  // namespace

int
main (int argc, char **argv)
{
  if (argc > 1 && g_strcmp0 (argv[1], "token") == 0)
    return token_command (argc - 1, argv + 1);

  g_autofree char *address = nullptr;
  g_autofree char *port_text = nullptr;
  g_autofree char *web_root = nullptr;
  g_auto (GStrv) ice = nullptr;
  int max_room_size = (int) kDefaultMaxRoomSize;
  int keepalive = (int) kDefaultKeepaliveSeconds;
  gint64 max_message = (gint64) kDefaultMaxMessageSize;
  gboolean verbose = FALSE;
  g_autofree char *auth_secret = nullptr;
  g_auto (GStrv) origins = nullptr;
  g_autofree char *tls_cert = nullptr;
  g_autofree char *tls_key = nullptr;
  g_auto (GStrv) turn = nullptr;
  g_autofree char *turn_secret = nullptr;
  g_autofree char *turn_ttl = nullptr;
  int per_address = (int) kDefaultMaxConnectionsPerAddress;
  int http_connections = (int) kDefaultMaxHttpConnections;
  double rate = kDefaultMessagesPerSecond;
  double burst = kDefaultBurst;

  GOptionEntry entries[] = {
    {"address", 'a', 0, G_OPTION_ARG_STRING, &address,
        "IP address to listen on (env P2PCALL_ADDRESS; default: every interface)",
        "ADDR"},
    {"port", 'p', 0, G_OPTION_ARG_STRING, &port_text,
        "TCP port, 0 for any free one (env PORT; default 8080)", "PORT"},
    {"web-root", 0, 0, G_OPTION_ARG_FILENAME, &web_root,
        "Folder with the call page (env P2PCALL_WEB_ROOT; default: the "
        "installed page, or the source tree's web/ when run from a build)",
        "DIR"},
    {"ice-server", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ice,
        "STUN/TURN server advertised to joiners, repeatable: stun:HOST:PORT, "
        "turn://USER:PASS@HOST:PORT; \"none\" for none (env "
        "P2PCALL_ICE_SERVERS, comma-separated; default: two public STUN "
        "servers)", "URL"},
    {"max-room-size", 0, 0, G_OPTION_ARG_INT, &max_room_size,
        "Members per room (default 8)", "N"},
    {"max-message-size", 0, 0, G_OPTION_ARG_INT64, &max_message,
        "Largest message in bytes; larger ones close the connection with "
        "1009 (default 65536)", "BYTES"},
    {"keepalive-interval", 0, 0, G_OPTION_ARG_INT, &keepalive,
        "Seconds between WebSocket pings, 2 to 3600; silent peers are "
        "dropped within two intervals (default 10)", "SECONDS"},
    {"auth-secret", 0, 0, G_OPTION_ARG_STRING, &auth_secret,
        "Joining needs an HS256 token signed with SECRET (better: env "
        "P2PCALL_AUTH_SECRET, out of process lists); make one with "
        "`p2pcall-server token`", "SECRET"},
    {"allowed-origin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &origins,
        "Web origin allowed to open the WebSocket besides the page's own "
        "(always allowed), repeatable; * for any (clients sending no Origin "
        "pass)",
        "ORIGIN"},
    {"tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert,
        "PEM certificate (chain): serve https and wss", "FILE"},
    {"tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key,
        "PEM private key of --tls-cert", "FILE"},
    {"turn-server", 0, 0, G_OPTION_ARG_STRING_ARRAY, &turn,
        "TURN server given to joiners with time-limited credentials, "
        "repeatable: turn:HOST:PORT[?transport=udp]", "URL"},
    {"turn-secret", 0, 0, G_OPTION_ARG_STRING, &turn_secret,
        "coturn's static-auth-secret (better: env P2PCALL_TURN_SECRET)",
        "SECRET"},
    {"turn-ttl", 0, 0, G_OPTION_ARG_STRING, &turn_ttl,
        "How long TURN credentials last (default 12h)", "DURATION"},
    {"max-connections-per-address", 0, 0, G_OPTION_ARG_INT, &per_address,
        "Open WebSockets per client address (default 64)", "N"},
    {"max-http-connections", 0, 0, G_OPTION_ARG_INT, &http_connections,
        "Open connections that are not WebSockets (yet); over it the oldest "
        "is closed (default 1024, at most a quarter of the open-files "
        "limit)", "N"},
    {"max-messages-per-second", 0, 0, G_OPTION_ARG_DOUBLE, &rate,
        "Messages a connection may send per second on average (default 50)",
        "N"},
    {"message-burst", 0, 0, G_OPTION_ARG_DOUBLE, &burst,
        "Messages a connection may send at once (default 200)", "N"},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
        "Log debug detail (never SDP bodies)", nullptr},
    {nullptr}
  };

  g_autoptr (GOptionContext) context =
      g_option_context_new ("- p2pcall room signalling server and call page");
  g_option_context_set_summary (context,
      "Serves the call page at / and the room protocol (protocol/PROTOCOL.md) "
      "on a WebSocket at /ws (and /). Media never passes through it.");
  g_option_context_add_main_entries (context, entries, nullptr);
  g_autoptr (GError) err = nullptr;
  if (!g_option_context_parse (context, &argc, &argv, &err)) {
    g_printerr ("p2pcall-server: %s (see --help)\n", err->message);
    return 2;
  }
  set_default (address, env_or ("P2PCALL_ADDRESS", ""));
  set_default (port_text, env_or ("PORT", "8080"));
  set_default (web_root, env_or ("P2PCALL_WEB_ROOT", ""));
  set_default (auth_secret, g_getenv ("P2PCALL_AUTH_SECRET"));
  set_default (turn_secret, g_getenv ("P2PCALL_TURN_SECRET"));
  set_default (turn_ttl, "12h");

  guint64 port = 0, room_size = 0, message = 0, interval = 0;
  if (!parse_count (port_text, 0, 65535, port)) {
    g_printerr ("p2pcall-server: port \"%s\" is not a number from 0 to 65535\n",
        port_text);
    return 2;
  }
  if (!parse_count (std::to_string (max_room_size).c_str (), 2, 1000,
          room_size)) {
    g_printerr ("p2pcall-server: --max-room-size must be from 2 to 1000\n");
    return 2;
  }
  if (!parse_count (std::to_string (max_message).c_str (), 1024,
          16 * 1024 * 1024, message)) {
    g_printerr ("p2pcall-server: --max-message-size must be from 1024 to "
        "16777216 bytes\n");
    return 2;
  }
  // From 2 s: at 1 s a live member had half a second to answer its ping
  // (SignallingServer::on_keepalive_check), which a busy machine missed.
  if (!parse_count (std::to_string (keepalive).c_str (), 2, 3600, interval)) {
    g_printerr ("p2pcall-server: --keepalive-interval must be from 2 to 3600 "
        "seconds\n");
    return 2;
  }

  std::vector<std::string> ice_urls;
  if (ice) {
    for (char **u = ice; *u; u++)
      ice_urls.push_back (*u);
  } else if (const char *env = g_getenv ("P2PCALL_ICE_SERVERS")) {
    g_auto (GStrv) parts = g_strsplit (env, ",", -1);
    for (char **u = parts; *u; u++)
      if (**u)
        ice_urls.push_back (g_strstrip (*u));
  } else {
    ice_urls.assign (std::begin (kDefaultIceServers),
        std::end (kDefaultIceServers));
  }

  ServerOptions options;
  options.address = address;
  options.port = (guint) port;
  options.web_root = *web_root ? web_root : default_web_root ();
  options.keepalive_seconds = (guint) interval;
  options.max_message_size = message;
  options.registry.max_room_size = room_size;
  std::string ice_error;
  if (!ice_servers_to_json (ice_urls, options.registry.ice_servers_json,
          ice_error)) {
    g_printerr ("p2pcall-server: %s\n", ice_error.c_str ());
    return 2;
  }
  if (!g_file_test ((options.web_root + "/index.html").c_str (),
          G_FILE_TEST_IS_REGULAR)) {
    g_printerr ("p2pcall-server: web root \"%s\" has no index.html "
        "(set --web-root)\n", options.web_root.c_str ());
    return 2;
  }
  if (per_address < 1 || http_connections < 1 || rate <= 0 || burst < 1) {
    g_printerr ("p2pcall-server: --max-connections-per-address, "
        "--max-http-connections, "
        "--max-messages-per-second and --message-burst must be positive\n");
    return 2;
  }
  options.max_connections_per_address = (guint) per_address;
  options.max_http_connections = (guint) http_connections;
  options.registry.messages_per_second = rate;
  options.registry.burst = burst;
  for (char **o = origins; o && *o; o++)
    options.allowed_origins.push_back (*o);

  if (auth_secret && *auth_secret) {
    std::string secret = auth_secret;
    options.registry.authorize = [secret] (const std::string &room,
        const char *token, std::string &name) {
      return check_access_token (secret, token, room,
          g_get_real_time () / G_USEC_PER_SEC, name);
    };
  }

  if (turn) {
    std::int64_t ttl = parse_duration (turn_ttl);
    if (!turn_secret || !*turn_secret || ttl <= 0) {
      g_printerr ("p2pcall-server: --turn-server needs --turn-secret (or "
          "P2PCALL_TURN_SECRET) and a --turn-ttl such as 12h\n");
      return 2;
    }
    std::vector<std::string> urls;
    for (char **u = turn; *u; u++) {
      if (!g_str_has_prefix (*u, "turn:") && !g_str_has_prefix (*u, "turns:")) {
        g_printerr ("p2pcall-server: --turn-server \"%s\": expected "
            "turn:HOST:PORT or turns:HOST:PORT\n", *u);
        return 2;
      }
      urls.push_back (*u);
    }
    std::string secret = turn_secret;
    options.registry.add_ice_servers = [urls, secret, ttl] (JsonArray *ice,
        const std::string &peer_id) {
      std::string user = turn_rest_username (
          g_get_real_time () / G_USEC_PER_SEC + ttl, peer_id);
      std::string password = turn_rest_password (secret, user);
      JsonObject *server = json_object_new ();
      JsonArray *list = json_array_new ();
      for (const std::string &u : urls)
        json_array_add_string_element (list, u.c_str ());
      json_object_set_array_member (server, "urls", list);
      json_object_set_string_member (server, "username", user.c_str ());
      json_object_set_string_member (server, "credential", password.c_str ());
      json_array_add_object_element (ice, server);
    };
  }

  g_autoptr (GTlsCertificate) certificate = nullptr;
  if (tls_cert || tls_key) {
    if (!tls_cert || !tls_key) {
      g_printerr ("p2pcall-server: --tls-cert and --tls-key go together\n");
      return 2;
    }
    certificate = g_tls_certificate_new_from_files (tls_cert, tls_key, &err);
    if (!certificate) {
      g_printerr ("p2pcall-server: cannot load TLS certificate \"%s\" / key "
          "\"%s\": %s\n", tls_cert, tls_key, err->message);
      return 2;
    }
    options.tls_certificate = certificate;
  }

  if (verbose)
    g_setenv ("G_MESSAGES_DEBUG", G_LOG_DOMAIN, TRUE);

  raise_descriptor_limit ();
  SignallingServer server (options);
  if (!server.start (&err)) {
    g_printerr ("p2pcall-server: cannot listen on %s port %s: %s\n",
        *address ? address : "every interface", port_text, err->message);
    return 1;
  }

  g_autoptr (GMainLoop) loop = g_main_loop_new (nullptr, FALSE);
  auto quit = +[] (gpointer data) -> gboolean {
    g_main_loop_quit (static_cast<GMainLoop *> (data));
    return G_SOURCE_REMOVE;
  };
  g_unix_signal_add (SIGINT, quit, loop);
  g_unix_signal_add (SIGTERM, quit, loop);

  // Tests and scripts read this line to learn the port.
  g_print ("p2pcall-server: listening on %s (page at /, WebSocket at /ws, "
      "web root %s)\n", server.url ().c_str (), options.web_root.c_str ());
  fflush (stdout);

  g_main_loop_run (loop);

  server.shutdown ();
  // Let the close frames go out before the sockets are dropped.
  GMainContext *ctx = g_main_context_default ();
  gint64 until = g_get_monotonic_time () + 200000;
  while (g_get_monotonic_time () < until)
    g_main_context_iteration (ctx, FALSE) || (g_usleep (10000), true);
  g_print ("p2pcall-server: stopped\n");
  return 0;
}
