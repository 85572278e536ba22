// What p2pcall-server counts, for Prometheus: one process-wide set of
// counters fed by one-line hooks where things happen (a connection opens,
// a member joins, a message is relayed or refused), and a separate
// listener that serves them at GET /metrics in Prometheus's text format.
// The listener is its own socket (--metrics-address) so the figures are
// never public by accident alongside the page.
#pragma once

#include <glib.h>
#include <libsoup/soup.h>

#include <string>

namespace p2pcall::server::metrics {

// Hooks. All run on the main loop's thread.
void connection_opened ();
void connection_closed ();
void member_joined (bool room_created);
void member_left (bool room_emptied);
void message_relayed (const char *type);
void message_refused (const char *error_code);
void turn_credentials_issued ();

// Time from a message's arrival to the messages it causes being queued on
// their sockets; records into the relay latency histogram when it goes out
// of scope.
class HandlingTimer {
public:
  HandlingTimer () : start_us_ (g_get_monotonic_time ()) {}
  ~HandlingTimer ();
  HandlingTimer (const HandlingTimer &) = delete;
  HandlingTimer & operator= (const HandlingTimer &) = delete;
private:
  gint64 start_us_;
};

// Every figure in Prometheus's text exposition format (version 0.0.4).
std::string render ();

// Parses --metrics-address: "PORT" (loopback) or "ADDRESS:PORT" ("[v6]:PORT"
// for IPv6). False and @error naming the value when it is neither.
bool parse_address (const std::string & text, std::string & address,
    guint16 & port, std::string & error);

// Serves GET /metrics (and nothing else) on its own SoupServer.
class MetricsServer {
public:
  MetricsServer () = default;
  ~MetricsServer ();
  MetricsServer (const MetricsServer &) = delete;
  MetricsServer & operator= (const MetricsServer &) = delete;

  bool start (const std::string & address, guint16 port, GError ** error);
  // http://ADDRESS:PORT/metrics
  std::string url () const;

private:
  static void on_request (SoupServer * server, SoupServerMessage * msg,
      const char *path, GHashTable * query, gpointer user_data);
  SoupServer *soup_ = nullptr;
};

}  // namespace p2pcall::server::metrics
