// p2pcall-server: the room signalling server that also serves the call page.
#include "ice_servers.h"
#include "signalling_server.h"

#include <glib-unix.h>

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

bool
parse_count (const char *text, guint64 min, guint64 max, guint64 &out)
{
  g_autoptr (GError) err = nullptr;
  return g_ascii_string_to_unsigned (text, 10, min, max, &out, &err);
}

}  // namespace

int
main (int argc, char **argv)
{
  g_autofree char *address = g_strdup (env_or ("P2PCALL_ADDRESS", ""));
  g_autofree char *port_text = g_strdup (env_or ("PORT", "8080"));
  g_autofree char *web_root = g_strdup (env_or ("P2PCALL_WEB_ROOT", ""));
  g_auto (GStrv) ice = nullptr;
  int max_room_size = (int) kDefaultMaxRoomSize;
  int keepalive = (int) kDefaultKeepaliveSeconds;
  gint64 max_message = (gint64) kDefaultMaxMessageSize;
  gboolean verbose = FALSE;

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
        "Seconds between WebSocket pings; silent peers are dropped within "
        "two intervals (default 10)", "SECONDS"},
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
  if (!parse_count (std::to_string (keepalive).c_str (), 1, 3600, interval)) {
    g_printerr ("p2pcall-server: --keepalive-interval must be from 1 to 3600 "
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
  if (verbose)
    g_setenv ("G_MESSAGES_DEBUG", G_LOG_DOMAIN, TRUE);

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
