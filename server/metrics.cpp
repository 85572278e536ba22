#include "metrics.h"
#include "config.h"

#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <map>

namespace p2pcall::server::metrics {

namespace {

// Upper bounds of the relay latency histogram, in seconds: handling is
// normally well under a millisecond; the top buckets show a stalled loop.
constexpr std::array<double, 12> kLatencyBuckets = {
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
  0.1, 0.5,
};

struct Figures {
  guint64 connections = 0, connections_total = 0;
  guint64 rooms = 0, members = 0, joins = 0, leaves = 0;
  guint64 turn_credentials = 0;
  std::map<std::string, guint64> relayed, refused;
  std::array<guint64, kLatencyBuckets.size ()> latency_buckets {};
  guint64 latency_count = 0;
  double latency_sum = 0;
};

Figures &
figures ()
{
  static Figures f;
  return f;
}

std::string
escape_label (const std::string &value)
{
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// Exact: counters and sums must not lose digits.
std::string
number (double value)
{
  return format_number (value, 17);
}

void
family (std::string &out, const char *name, const char *type,
    const char *help)
{
  out += std::string ("# HELP ") + name + " " + help + "\n# TYPE " + name +
      " " + type + "\n";
}

void
sample (std::string &out, const char *name, double value,
    const std::string &labels = "")
{
  out += name + (labels.empty () ? "" : "{" + labels + "}") + " " +
      number (value) + "\n";
}

void
labelled (std::string &out, const char *name, const char *type,
    const char *help, const char *label,
    const std::map<std::string, guint64> &values)
{
  family (out, name, type, help);
  for (auto &[key, count] : values)
    sample (out, name, (double) count,
        std::string (label) + "=\"" + escape_label (key) + "\"");
}

// The standard process_* figures, from /proc (Linux).
void
process_figures (std::string &out)
{
  g_autofree char *stat = nullptr;
  if (g_file_get_contents ("/proc/self/stat", &stat, nullptr, nullptr)) {
    // Fields after the command name, which may hold spaces: from ") ".
    const char *rest = strrchr (stat, ')');
    g_auto (GStrv) f = g_strsplit (rest ? rest + 2 : "", " ", -1);
    if (g_strv_length (f) > 22) {
      double ticks = (double) sysconf (_SC_CLK_TCK);
      double cpu = (g_ascii_strtod (f[11], nullptr) +
          g_ascii_strtod (f[12], nullptr)) / ticks;
      family (out, "process_cpu_seconds_total", "counter",
          "User and system CPU time spent, in seconds.");
      sample (out, "process_cpu_seconds_total", cpu);
      family (out, "process_virtual_memory_bytes", "gauge",
          "Virtual memory size in bytes.");
      sample (out, "process_virtual_memory_bytes",
          g_ascii_strtod (f[20], nullptr));
      family (out, "process_resident_memory_bytes", "gauge",
          "Resident memory size in bytes.");
      sample (out, "process_resident_memory_bytes",
          g_ascii_strtod (f[21], nullptr) * (double) sysconf (_SC_PAGESIZE));
      g_autofree char *boot = nullptr;
      if (g_file_get_contents ("/proc/stat", &boot, nullptr, nullptr)) {
        if (const char *btime = strstr (boot, "\nbtime ")) {
          family (out, "process_start_time_seconds", "gauge",
              "Start time of the process since the Unix epoch, in seconds.");
          sample (out, "process_start_time_seconds",
              g_ascii_strtod (btime + 7, nullptr) +
              g_ascii_strtod (f[19], nullptr) / ticks);
        }
      }
    }
  }
  if (GDir *dir = g_dir_open ("/proc/self/fd", 0, nullptr)) {
    double open = 0;
    while (g_dir_read_name (dir))
      open++;
    g_dir_close (dir);
    family (out, "process_open_fds", "gauge", "Open file descriptors.");
    sample (out, "process_open_fds", open);
  }
  struct rlimit limit;
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0) {
    family (out, "process_max_fds", "gauge",
        "Most file descriptors the process may open.");
    sample (out, "process_max_fds", (double) limit.rlim_cur);
  }
}

}  // namespace

void
connection_opened ()
{
  figures ().connections++;
  figures ().connections_total++;
}

void
connection_closed ()
{
  figures ().connections--;
}

void
turn_credentials_issued ()
{
  figures ().turn_credentials++;
}

void
message_relayed (const char *type)
{
  figures ().relayed[type]++;
}

void
message_refused (const char *code)
{
  figures ().refused[code]++;
}

void
member_joined (bool room_created)
{
  Figures &f = figures ();
  f.joins++;
  f.members++;
  f.rooms += room_created;
}

void
member_left (bool room_emptied)
{
  Figures &f = figures ();
  f.leaves++;
  f.members--;
  f.rooms -= room_emptied;
}

HandlingTimer::~HandlingTimer ()
{
  double seconds = (g_get_monotonic_time () - start_us_) / 1e6;
  Figures &f = figures ();
  for (std::size_t i = 0; i < kLatencyBuckets.size (); i++)
    if (seconds <= kLatencyBuckets[i])
      f.latency_buckets[i]++;
  f.latency_count++;
  f.latency_sum += seconds;
}

std::string
render ()
{
  const Figures &f = figures ();
  std::string out;
  family (out, "p2pcall_connections", "gauge", "Open WebSocket connections.");
  sample (out, "p2pcall_connections", (double) f.connections);
  family (out, "p2pcall_connections_total", "counter",
      "WebSocket connections accepted.");
  sample (out, "p2pcall_connections_total", (double) f.connections_total);
  family (out, "p2pcall_rooms", "gauge", "Rooms with at least one member.");
  sample (out, "p2pcall_rooms", (double) f.rooms);
  family (out, "p2pcall_members", "gauge", "Members in all rooms.");
  sample (out, "p2pcall_members", (double) f.members);
  family (out, "p2pcall_joins_total", "counter", "Room joins.");
  sample (out, "p2pcall_joins_total", (double) f.joins);
  family (out, "p2pcall_leaves_total", "counter",
      "Room leaves, including disconnects.");
  sample (out, "p2pcall_leaves_total", (double) f.leaves);
  labelled (out, "p2pcall_messages_relayed_total", "counter",
      "Messages relayed to other members, by type.", "type", f.relayed);
  labelled (out, "p2pcall_refusals_total", "counter",
      "Error messages sent to clients, by error code.", "code", f.refused);
  family (out, "p2pcall_turn_credentials_total", "counter",
      "TURN credentials handed out to joiners.");
  sample (out, "p2pcall_turn_credentials_total", (double) f.turn_credentials);

  const char *h = "p2pcall_message_handling_seconds";
  family (out, h, "histogram", "Time from a message's arrival to the "
      "messages it causes (the relayed copies) being queued on their "
      "sockets.");
  for (std::size_t i = 0; i < kLatencyBuckets.size (); i++)
    sample (out, "p2pcall_message_handling_seconds_bucket",
        (double) f.latency_buckets[i], "le=\"" + number (kLatencyBuckets[i]) +
        "\"");
  sample (out, "p2pcall_message_handling_seconds_bucket",
      (double) f.latency_count, "le=\"+Inf\"");
  sample (out, "p2pcall_message_handling_seconds_sum", f.latency_sum);
  sample (out, "p2pcall_message_handling_seconds_count",
      (double) f.latency_count);

  process_figures (out);
  return out;
}

bool
parse_address (const std::string &text, std::string &address, guint16 &port,
    std::string &error)
{
  std::string host = "127.0.0.1", port_text = text;
  std::size_t colon = text.rfind (':');
  if (colon != std::string::npos) {
    host = text.substr (0, colon);
    port_text = text.substr (colon + 1);
    if (host.size () > 2 && host.front () == '[' && host.back () == ']')
      host = host.substr (1, host.size () - 2);
  }
  guint64 value = 0;
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host.c_str ());
  if (!inet || !g_ascii_string_to_unsigned (port_text.c_str (), 10, 0, 65535,
          &value, nullptr)) {
    error = "--metrics-address \"" + text + "\" is not PORT or ADDRESS:PORT "
        "(such as 127.0.0.1:9090)";
    return false;
  }
  address = host;
  port = (guint16) value;
  return true;
}

MetricsServer::~MetricsServer ()
{
  if (soup_) {
    soup_server_disconnect (soup_);
    g_object_unref (soup_);
  }
}

bool
MetricsServer::start (const std::string &address, guint16 port,
    GError **error)
{
  soup_ = soup_server_new ("server-header", "p2pcall-server", nullptr);
  soup_server_add_handler (soup_, nullptr, on_request, this, nullptr);
  g_autoptr (GInetAddress) inet =
      g_inet_address_new_from_string (address.c_str ());
  g_autoptr (GSocketAddress) where = g_inet_socket_address_new (inet, port);
  return soup_server_listen (soup_, where, (SoupServerListenOptions) 0, error);
}

std::string
MetricsServer::url () const
{
  GSList *uris = soup_ ? soup_server_get_uris (soup_) : nullptr;
  std::string url;
  if (uris) {
    g_autofree char *text = g_uri_to_string ((GUri *) uris->data);
    url = std::string (text) + "metrics";
  }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return url;
}

void
MetricsServer::on_request (SoupServer *, SoupServerMessage *msg,
    const char *path, GHashTable *, gpointer)
{
  const char *method = soup_server_message_get_method (msg);
  if (g_strcmp0 (path, "/metrics") != 0) {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, nullptr);
    return;
  }
  if (g_strcmp0 (method, "GET") != 0 && g_strcmp0 (method, "HEAD") != 0) {
    soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
        nullptr);
    return;
  }
  std::string body = render ();
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  soup_server_message_set_response (msg, "text/plain; version=0.0.4; "
      "charset=utf-8", SOUP_MEMORY_COPY, body.data (), body.size ());
}

}  // namespace p2pcall::server::metrics
