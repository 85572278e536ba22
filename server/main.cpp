// p2pcall-server: the room signalling server that also serves the call page.
#include "access_token.h"
#include "call_history.h"
#include "config.h"
#include "ice_servers.h"
#include "logging.h"
#include "metrics.h"
#include "signalling_server.h"

#include <glib-unix.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

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

// GOption replaces a string option's pointer without freeing what was
// there, so string defaults are filled in after parsing (no leak).
void
set_default (char *&option, const char *fallback)
{
  if (!option && fallback)
    option = g_strdup (fallback);
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

// Every option of the server, each defined once: the command line, the
// environment and --config FILE read this table, and --print-config writes
// the packaged configuration file from it.
std::vector<OptionSpec>
server_options ()
{
  using K = OptionKind;
  std::string default_ice;
  for (const char *url : kDefaultIceServers)
    default_ice += (default_ice.empty () ? "" : ",") + std::string (url);
  auto count = [] (auto n) { return std::to_string (n); };
  std::string rate = format_number (kDefaultMessagesPerSecond);
  std::string burst = format_number (kDefaultBurst);
  return {
    {"address", 'a', "P2PCALL_ADDRESS", K::kText, "", 0, 0,
      "IP address to listen on; empty: every interface", "ADDR", false},
    {"port", 'p', "PORT", K::kInteger, count (kDefaultPort), 0, 65535,
      "TCP port, 0 for any free one", "PORT", false},
    {"web-root", 0, "P2PCALL_WEB_ROOT", K::kFile, "", 0, 0,
      "Folder with the call page; empty: the installed page, or the source "
      "tree's web/ when run from a build", "DIR", false},
    {"ice-server", 0, "P2PCALL_ICE_SERVERS", K::kList, default_ice, 0, 0,
      "STUN/TURN server advertised to joiners, repeatable: stun:HOST:PORT, "
      "turn://USER:PASS@HOST:PORT; \"none\" for none", "URL", false},
    {"max-room-size", 0, "P2PCALL_MAX_ROOM_SIZE", K::kInteger,
      count (kDefaultMaxRoomSize), 2, 1000, "Members per room", "N", false},
    {"max-message-size", 0, "P2PCALL_MAX_MESSAGE_SIZE", K::kInteger,
      count (kDefaultMaxMessageSize), 1024, 16 * 1024 * 1024,
      "Largest message in bytes; larger ones close the connection with 1009",
      "BYTES", false},
    // From 2 s: at 1 s a live member had half a second to answer its ping
    // (SignallingServer::on_keepalive_check), which a busy machine missed.
    {"keepalive-interval", 0, "P2PCALL_KEEPALIVE_INTERVAL", K::kInteger,
      count (kDefaultKeepaliveSeconds), 2, 3600,
      "Seconds between WebSocket pings; silent peers are dropped within two "
      "intervals", "SECONDS", false},
    {"auth-secret", 0, "P2PCALL_AUTH_SECRET", K::kText, "", 0, 0,
      "Joining needs an HS256 token signed with SECRET (better in the "
      "environment or the config file than in process lists); make one with "
      "`p2pcall-server token`", "SECRET", true},
    {"auth-public-key", 0, "P2PCALL_AUTH_PUBLIC_KEY", K::kFile, "", 0, 0,
      "Joining needs an RS256 or ES256 token signed by the private key of "
      "this PEM public key (a login service signs, the server only checks); "
      "with auth-secret too, either kind passes", "FILE", false},
    {"auth-audience", 0, "P2PCALL_AUTH_AUDIENCE", K::kText, "", 0, 0,
      "Tokens must name this in their aud claim; empty: aud is not checked",
      "AUDIENCE", false},
    {"max-token-lifetime", 0, "P2PCALL_MAX_TOKEN_LIFETIME", K::kDuration, "",
      1, 3650 * 86400, "Tokens whose exp lies further ahead are refused, "
      "such as 1h or 7d; empty: any", "DURATION", false},
    {"allowed-origin", 0, "P2PCALL_ALLOWED_ORIGINS", K::kList, "", 0, 0,
      "Web origin allowed to open the WebSocket besides the page's own "
      "(always allowed), repeatable; * for any (clients sending no Origin "
      "pass)",
      "ORIGIN", false},
    {"tls-cert", 0, "P2PCALL_TLS_CERT", K::kFile, "", 0, 0,
      "PEM certificate (chain): serve https and wss", "FILE", false},
    {"tls-key", 0, "P2PCALL_TLS_KEY", K::kFile, "", 0, 0,
      "PEM private key of tls-cert", "FILE", false},
    {"turn-server", 0, "P2PCALL_TURN_SERVERS", K::kList, "", 0, 0,
      "TURN server given to joiners with time-limited credentials, "
      "repeatable: turn:HOST:PORT[?transport=udp]", "URL", false},
    {"turn-secret", 0, "P2PCALL_TURN_SECRET", K::kText, "", 0, 0,
      "coturn's static-auth-secret", "SECRET", true},
    {"turn-ttl", 0, "P2PCALL_TURN_TTL", K::kDuration, "12h", 1, 365 * 86400,
      "How long TURN credentials last", "DURATION", false},
    {"max-connections-per-address", 0,
      "P2PCALL_MAX_CONNECTIONS_PER_ADDRESS", K::kInteger,
      count (kDefaultMaxConnectionsPerAddress), 1, 1000000,
      "Open WebSockets per client address", "N", false},
    {"trusted-proxy", 0, "P2PCALL_TRUSTED_PROXIES", K::kList, "", 0, 0,
      "Reverse proxy (address or CIDR range), repeatable: from it the client "
      "address is the one its Forwarded or X-Forwarded-For header names, for "
      "the per-address cap, the logs and the history", "ADDR", false},
    {"max-http-connections", 0, "P2PCALL_MAX_HTTP_CONNECTIONS", K::kInteger,
      count (kDefaultMaxHttpConnections), 1, 1000000,
      "Open connections that are not WebSockets (yet); over it the oldest is "
      "closed (at most a quarter of the open-files limit)", "N", false},
    {"max-messages-per-second", 0, "P2PCALL_MAX_MESSAGES_PER_SECOND",
      K::kNumber, rate, 0.1, 1000000,
      "Messages a connection may send per second on average", "N", false},
    {"message-burst", 0, "P2PCALL_MESSAGE_BURST", K::kNumber, burst, 1,
      1000000, "Messages a connection may send at once", "N", false},
    {"metrics-address", 0, "P2PCALL_METRICS_ADDRESS", K::kText, "", 0, 0,
      "Serve Prometheus metrics at /metrics on this separate listener: PORT "
      "(on loopback) or ADDRESS:PORT such as 127.0.0.1:9090; empty: none. "
      "Keep it off public interfaces", "[ADDR:]PORT", false},
    {"log-format", 0, "P2PCALL_LOG_FORMAT", K::kText, "text", 0, 0,
      "text, or json for one JSON object per line (time, level, event, room, "
      "peer, ...) for log collectors", "FORMAT", false},
    {"history-db", 0, "P2PCALL_HISTORY_DB", K::kText, "", 0, 0,
      "SQLite file of the call history (rooms, times, names; never SDP or "
      "chat); empty: history.db in the state directory systemd gives the "
      "service, or no history without one; none: off", "PATH", false},
    {"history-days", 0, "P2PCALL_HISTORY_DAYS", K::kInteger,
      count (kDefaultHistoryDays), 1, 3650,
      "Days a call stays in the history", "DAYS", false},
    {"history-addresses", 0, "P2PCALL_HISTORY_ADDRESSES", K::kFlag, "", 0, 0,
      "Keep members' IP addresses in the history", "", false},
    {"admin-secret", 0, "P2PCALL_ADMIN_SECRET", K::kText, "", 0, 0,
      "GET /api/history answers requests with Authorization: Bearer SECRET; "
      "empty: nobody", "SECRET", true},
    {"verbose", 'v', "P2PCALL_VERBOSE", K::kFlag, "", 0, 0,
      "Log debug detail (never SDP bodies)", "", false},
  };
}

// `p2pcall-server token --room R --ttl 1h [--name N]`: prints a token.
int
token_command (int argc, char **argv)
{
  g_autofree char *secret = nullptr;
  g_autofree char *room = nullptr;
  g_autofree char *ttl = nullptr;
  g_autofree char *name = nullptr;
  g_autofree char *config_path = nullptr;
  GOptionEntry entries[] = {
    {"auth-secret", 0, 0, G_OPTION_ARG_STRING, &secret,
        "The server's secret (better: env P2PCALL_AUTH_SECRET)", "SECRET"},
    {"room", 0, 0, G_OPTION_ARG_STRING, &room, "Room id, or * for any", "ROOM"},
    {"ttl", 0, 0, G_OPTION_ARG_STRING, &ttl,
        "How long it is valid: 90s, 15m, 1h, 7d (default 1h)", "DURATION"},
    {"name", 0, 0, G_OPTION_ARG_STRING, &name,
        "Display name its holder gets", "NAME"},
    {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
        "Take the secret from the server's configuration file", "FILE"},
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
  if (!secret) {
    // The server's own reading: environment over file, as the server does.
    char program[] = "p2pcall-server", option[] = "--config";
    char *server_argv[] = {program, option, config_path, nullptr};
    int server_argc = config_path ? 3 : 1;
    char **server_args = server_argv;
    Config config (server_options ());
    std::string error;
    if (!config.parse (server_argc, server_args, nullptr, nullptr, error)) {
      g_printerr ("p2pcall-server token: %s\n", error.c_str ());
      return 2;
    }
    secret = g_strdup (config.text ("auth-secret").c_str ());
  }
  set_default (ttl, "1h");
  if (!secret || !*secret) {
    g_printerr ("p2pcall-server token: no secret: set P2PCALL_AUTH_SECRET, "
        "--auth-secret or --config FILE with auth-secret\n");
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
  std::int64_t now = g_get_real_time () / G_USEC_PER_SEC;
  g_print ("%s\n", make_access_token (secret, room, now + seconds,
          name ? name : "", now).c_str ());
  return 0;
}

// What SIGHUP reads again without dropping anyone: the token keys, the
// TURN secret and the TLS certificate, from the config file and the files
// it names (the command line and the environment stay as they were).
struct Secrets {
  TokenPolicy tokens;
  std::string turn_secret;
  std::unique_ptr<GTlsCertificate, decltype (&g_object_unref)> certificate {
    nullptr, g_object_unref};
};

bool
load_secrets (const Config &config, Secrets &out, std::string &error)
{
  out.tokens.secret = config.text ("auth-secret");
  out.tokens.audience = config.text ("auth-audience");
  out.turn_secret = config.text ("turn-secret");
  if (!config.text ("auth-public-key").empty () &&
      !load_public_key (config.text ("auth-public-key"),
          out.tokens.public_key_pem, error))
    return false;
  if (config.is_set ("max-token-lifetime") &&
      !config.duration ("max-token-lifetime", out.tokens.max_lifetime, error))
    return false;
  if (out.tokens.secret.empty () && out.tokens.public_key_pem.empty () &&
      (!out.tokens.audience.empty () || out.tokens.max_lifetime)) {
    error = "--auth-audience and --max-token-lifetime need --auth-secret or "
        "--auth-public-key";
    return false;
  }
  if (!config.list ("turn-server").empty () && out.turn_secret.empty ()) {
    error = config.origin ("turn-server") + " needs --turn-secret (or "
        "P2PCALL_TURN_SECRET, or turn-secret in the config file)";
    return false;
  }
  std::string cert = config.text ("tls-cert"), key = config.text ("tls-key");
  if (cert.empty () && key.empty ())
    return true;
  if (cert.empty () || key.empty ()) {
    error = "--tls-cert and --tls-key go together";
    return false;
  }
  g_autoptr (GError) err = nullptr;
  out.certificate.reset (g_tls_certificate_new_from_files (cert.c_str (),
          key.c_str (), &err));
  if (!out.certificate) {
    error = "cannot load TLS certificate \"" + cert + "\" / key \"" + key +
        "\": " + err->message;
    return false;
  }
  return true;
}

// The server's options from @config; false and @error naming the option
// when one is not usable. The callbacks read @secrets, which SIGHUP swaps.
bool
configure_server (const Config &config, Secrets &secrets,
    ServerOptions &options, std::string &error)
{
  std::int64_t port = 0, room_size = 0, message = 0, interval = 0;
  std::int64_t per_address = 0, http_connections = 0, turn_ttl = 0;
  double rate = 0, burst = 0;
  if (!config.integer ("port", port, error) ||
      !config.integer ("max-room-size", room_size, error) ||
      !config.integer ("max-message-size", message, error) ||
      !config.integer ("keepalive-interval", interval, error) ||
      !config.integer ("max-connections-per-address", per_address, error) ||
      !config.integer ("max-http-connections", http_connections, error) ||
      !config.number ("max-messages-per-second", rate, error) ||
      !config.number ("message-burst", burst, error) ||
      !config.duration ("turn-ttl", turn_ttl, error))
    return false;
  std::string web_root = config.text ("web-root");
  options.address = config.text ("address");
  options.port = (guint) port;
  options.web_root = web_root.empty () ? default_web_root () : web_root;
  options.keepalive_seconds = (guint) interval;
  options.max_message_size = (guint64) message;
  options.max_connections_per_address = (guint) per_address;
  options.max_http_connections = (guint) http_connections;
  options.allowed_origins = config.list ("allowed-origin");
  if (!options.trusted_proxies.parse (config.list ("trusted-proxy"), error)) {
    error = config.origin ("trusted-proxy") + ": " + error;
    return false;
  }
  options.registry.max_room_size = (std::size_t) room_size;
  options.registry.messages_per_second = rate;
  options.registry.burst = burst;
  std::string ice_error;
  if (!ice_servers_to_json (config.list ("ice-server"),
          options.registry.ice_servers_json, ice_error)) {
    error = config.origin ("ice-server") + ": " + ice_error;
    return false;
  }
  if (!g_file_test ((options.web_root + "/index.html").c_str (),
          G_FILE_TEST_IS_REGULAR)) {
    error = "web root \"" + options.web_root + "\" has no index.html (set " +
        config.origin ("web-root") + ")";
    return false;
  }

  // Always asked, so a SIGHUP can turn tokens on or off; with no key
  // configured every join passes.
  options.registry.authorize = [&secrets] (const std::string &room,
      const char *token, std::string &name) -> const char * {
    const TokenPolicy &tokens = secrets.tokens;
    if (tokens.secret.empty () && tokens.public_key_pem.empty ())
      return nullptr;
    const char *why = check_access_token (tokens, token, room,
        g_get_real_time () / G_USEC_PER_SEC, name);
    if (!why || !token || !*token)
      return why;
    // The reason is for the host only: telling a forger which check
    // failed helps the next attempt.
    g_message ("refused token room=%s: %s", room.c_str (), why);
    return "the access token was refused";
  };

  std::vector<std::string> turn = config.list ("turn-server");
  for (const std::string &u : turn) {
    if (!g_str_has_prefix (u.c_str (), "turn:") &&
        !g_str_has_prefix (u.c_str (), "turns:")) {
      error = config.origin ("turn-server") + " \"" + u + "\": expected "
          "turn:HOST:PORT or turns:HOST:PORT";
      return false;
    }
  }
  if (turn.empty ())
    return true;
  options.registry.add_ice_servers = [turn, &secrets, turn_ttl] (
      JsonArray *ice, const std::string &peer_id) {
    std::string user = turn_rest_username (
        g_get_real_time () / G_USEC_PER_SEC + turn_ttl, peer_id);
    std::string password = turn_rest_password (secrets.turn_secret, user);
    metrics::turn_credentials_issued ();
    JsonObject *server = json_object_new ();
    JsonArray *list = json_array_new ();
    for (const std::string &u : turn)
      json_array_add_string_element (list, u.c_str ());
    json_object_set_array_member (server, "urls", list);
    json_object_set_string_member (server, "username", user.c_str ());
    json_object_set_string_member (server, "credential", password.c_str ());
    json_array_add_object_element (ice, server);
  };
  return true;
}

// SIGHUP: everything or nothing; a bad file leaves the running values.
void
reload_secrets (GStrv arguments, Secrets &secrets, SignallingServer &server)
{
  g_auto (GStrv) argv = g_strdupv (arguments);
  int argc = (int) g_strv_length (argv);
  char **parsed = argv;
  Config config (server_options ());
  Secrets fresh;
  std::string error;
  if (!config.parse (argc, parsed, nullptr, nullptr, error) ||
      !load_secrets (config, fresh, error)) {
    g_warning ("reload failed, keeping the running secrets: %s",
        error.c_str ());
    return;
  }
  bool had_tls = secrets.certificate != nullptr;
  if (had_tls != (fresh.certificate != nullptr)) {
    g_warning ("reload failed, keeping the running secrets: turning TLS on or "
        "off needs a restart");
    return;
  }
  if (fresh.certificate)
    server.set_tls_certificate (fresh.certificate.get ());
  secrets = std::move (fresh);
  g_message ("reloaded secrets%s", had_tls ? " and TLS certificate" : "");
}

int
fail (const std::string &error)
{
  g_printerr ("p2pcall-server: %s\n", error.c_str ());
  return 2;
}

// The history file: the one asked for, or history.db in the state
// directory systemd made for the service (StateDirectory=); "" for none.
std::string
history_path (const std::string &asked)
{
  if (asked == "none")
    return "";
  if (!asked.empty ())
    return asked;
  const char *state = g_getenv ("STATE_DIRECTORY");
  if (!state || !*state)
    return "";
  // systemd may list several folders, separated by colons.
  g_auto (GStrv) folders = g_strsplit (state, ":", 2);
  g_autofree char *path = g_build_filename (folders[0], "history.db", nullptr);
  return path;
}

// `p2pcall-server history [--room R] [--since DATE]`: prints the call log.
int
history_command (int argc, char **argv)
{
  g_autofree char *db = nullptr;
  g_autofree char *room = nullptr;
  g_autofree char *since = nullptr;
  int limit = 50;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    {"history-db", 0, 0, G_OPTION_ARG_FILENAME, &db,
        "The server's history file (env P2PCALL_HISTORY_DB; default: "
        "history.db in $STATE_DIRECTORY, or /var/lib/p2pcall/history.db)", "PATH"},
    {"room", 0, 0, G_OPTION_ARG_STRING, &room, "Only this room", "ROOM"},
    {"since", 0, 0, G_OPTION_ARG_STRING, &since,
        "Only calls that started then or later: 2026-12-01 or an ISO 8601 time",
        "DATE"},
    {"limit", 0, 0, G_OPTION_ARG_INT, &limit, "At most N calls (default 50)",
        "N"},
    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "JSON, as GET /api/history", nullptr},
    {nullptr}
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "- print p2pcall-server's call history, newest first");
  g_option_context_add_main_entries (context, entries, nullptr);
  g_autoptr (GError) err = nullptr;
  if (!g_option_context_parse (context, &argc, &argv, &err))
    return fail (std::string (err->message) + " (see history --help)");
  std::string path = history_path (db ? db : g_getenv ("P2PCALL_HISTORY_DB") ?
      g_getenv ("P2PCALL_HISTORY_DB") : "");
  if (path.empty ())
    path = "/var/lib/p2pcall/history.db";
  HistoryQuery query;
  query.room = room ? room : "";
  if (since && (query.since = parse_history_date (since)) < 0)
    return fail (std::string ("--since \"") + since + "\" is not a date "
        "(2026-12-01) or an ISO 8601 time");
  if (limit < 1)
    return fail ("--limit must be at least 1");
  query.limit = (guint) limit;
  std::string error;
  auto history = CallHistory::open_read_only (path, error);
  if (!history)
    return fail (error);
  auto calls = history->calls (query);
  g_print ("%s", json ? (history_to_json (calls) + "\n").c_str () :
      history_to_table (calls).c_str ());
  return 0;
}

}  // namespace

int
main (int argc, char **argv)
{
  if (argc > 1 && g_strcmp0 (argv[1], "token") == 0)
    return token_command (argc - 1, argv + 1);
  if (argc > 1 && g_strcmp0 (argv[1], "history") == 0)
    return history_command (argc - 1, argv + 1);

  // SIGHUP parses the same command line again.
  g_auto (GStrv) arguments = g_strdupv (argv);
  Config config (server_options ());
  std::string error;
  if (!config.parse (argc, argv,
          "- p2pcall room signalling server and call page",
          "Serves the call page at / and the room protocol "
          "(protocol/PROTOCOL.md) on a WebSocket at /ws (and /). Media never "
          "passes through it.", error))
    return fail (error + " (see --help)");
  if (config.print_requested ()) {
    g_print ("%s", config.print ().c_str ());
    return 0;
  }

  bool verbose = false;
  if (!config.flag ("verbose", verbose, error))
    return fail (error);
  std::string log_format = config.text ("log-format");
  if (log_format != "text" && log_format != "json")
    return fail (config.origin ("log-format") + " must be text or json, not \"" +
        log_format + "\"");
  install_log_writer (log_format == "json" ? LogFormat::kJson :
      LogFormat::kText);
  Secrets secrets;
  ServerOptions options;
  if (!load_secrets (config, secrets, error) ||
      !configure_server (config, secrets, options, error))
    return fail (error);

  std::unique_ptr<CallHistory> history;
  std::int64_t history_days = 0;
  bool history_addresses = false;
  if (!config.integer ("history-days", history_days, error) ||
      !config.flag ("history-addresses", history_addresses, error))
    return fail (error);
  std::string history_file = history_path (config.text ("history-db"));
  if (!history_file.empty ()) {
    history = CallHistory::open (history_file, (guint) history_days,
        history_addresses, g_get_real_time () / G_USEC_PER_SEC, error);
    if (!history)
      return fail (error + " (" + config.origin ("history-db") + ")");
    options.history = history.get ();
    g_timeout_add_seconds (kHistoryHeartbeatSeconds, +[] (gpointer data) -> gboolean {
          static_cast<CallHistory *> (data)->heartbeat (
              g_get_real_time () / G_USEC_PER_SEC);
          return G_SOURCE_CONTINUE;
        }, history.get ());
  }
  options.admin_secret = config.text ("admin-secret");

  g_autoptr (GError) err = nullptr;
  // The server keeps this pointer to know it speaks https; reloads hand it
  // new certificates but this one stays alive.
  g_autoptr (GTlsCertificate) first_certificate = secrets.certificate ?
      G_TLS_CERTIFICATE (g_object_ref (secrets.certificate.get ())) : nullptr;
  options.tls_certificate = first_certificate;

  std::string metrics_address;
  guint16 metrics_port = 0;
  if (!config.text ("metrics-address").empty () &&
      !metrics::parse_address (config.text ("metrics-address"),
          metrics_address, metrics_port, error))
    return fail (error);

  if (verbose)
    g_setenv ("G_MESSAGES_DEBUG", G_LOG_DOMAIN, TRUE);

  raise_descriptor_limit ();
  SignallingServer server (options);
  if (!server.start (&err)) {
    g_printerr ("p2pcall-server: cannot listen on %s port %u: %s\n",
        options.address.empty () ? "every interface" : options.address.c_str (),
        options.port, err->message);
    return 1;
  }

  metrics::MetricsServer metrics_server;
  if (!metrics_address.empty () &&
      !metrics_server.start (metrics_address, metrics_port, &err)) {
    g_printerr ("p2pcall-server: cannot serve metrics on %s port %u: %s\n",
        metrics_address.c_str (), metrics_port, err->message);
    return 1;
  }

  g_autoptr (GMainLoop) loop = g_main_loop_new (nullptr, FALSE);
  auto quit = +[] (gpointer data) -> gboolean {
    g_main_loop_quit (static_cast<GMainLoop *> (data));
    return G_SOURCE_REMOVE;
  };
  g_unix_signal_add (SIGINT, quit, loop);
  g_unix_signal_add (SIGTERM, quit, loop);
  struct Reload {
    GStrv arguments;
    Secrets *secrets;
    SignallingServer *server;
  } reload {arguments, &secrets, &server};
  g_unix_signal_add (SIGHUP, +[] (gpointer data) -> gboolean {
        auto *r = static_cast<Reload *> (data);
        reload_secrets (r->arguments, *r->secrets, *r->server);
        return G_SOURCE_CONTINUE;
      }, &reload);

  // Tests and scripts read this line to learn the port.
  g_print ("p2pcall-server: listening on %s (page at /, WebSocket at /ws, "
      "web root %s)\n", server.url ().c_str (), options.web_root.c_str ());
  if (!metrics_address.empty ())
    g_print ("p2pcall-server: metrics at %s\n", metrics_server.url ().c_str ());
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
