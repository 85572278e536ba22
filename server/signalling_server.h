// p2pcall-server's network side: one SoupServer serving the page and the
// WebSocket endpoint, a table of connections, keep-alive. Message handling
// itself is RoomRegistry's.
#pragma once

#include "metered_stream.h"
#include "call_history.h"
#include "forwarded.h"
#include "room_registry.h"
#include "static_files.h"

#include <libsoup/soup.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace p2pcall::server {

inline constexpr guint kDefaultPort = 8080;
inline constexpr guint kDefaultKeepaliveSeconds = 10;
inline constexpr guint64 kDefaultMaxMessageSize = 64 * 1024;
inline constexpr guint kDefaultMaxConnectionsPerAddress = 64;
// Pending connections the kernel queues before accept(); it caps this at
// net.core.somaxconn.
inline constexpr int kListenBacklog = 4096;
// Connections that are not WebSockets (yet): page loads, upgrades under
// way, or idle sockets. Over the cap the oldest is closed; never more than
// a quarter of the open-files limit, so WebSockets keep descriptors.
inline constexpr guint kDefaultMaxHttpConnections = 1024;
// An HTTP connection silent this long is closed (a browser keeps one open
// after loading the page and opens another when it needs one) ...
inline constexpr gint64 kHttpIdleTimeoutUs = 15 * G_USEC_PER_SEC;
// ... and one that has not become a WebSocket this long after it was
// accepted, whatever it sends (headers a byte a second).
inline constexpr gint64 kHttpLifetimeUs = 60 * G_USEC_PER_SEC;
// Request line and headers of one request; libsoup keeps no limit on
// their size or on how long they take (a byte a second held a socket).
inline constexpr guint64 kMaxRequestHeadBytes = 64 * 1024;
inline constexpr gint64 kRequestHeadTimeoutUs = 10 * G_USEC_PER_SEC;
// What may wait to be sent to one member that does not read; over it the
// member is closed with kCloseNotReading and its room told.
inline constexpr guint64 kDefaultMaxQueuedBytes = 1024 * 1024;

struct ServerOptions {
  std::string address;          // empty: every interface
  guint port = kDefaultPort;
  std::string web_root;
  guint keepalive_seconds = kDefaultKeepaliveSeconds;
  guint64 max_message_size = kDefaultMaxMessageSize;
  guint max_connections_per_address = kDefaultMaxConnectionsPerAddress;
  guint max_http_connections = kDefaultMaxHttpConnections;
  guint64 max_queued_bytes = kDefaultMaxQueuedBytes;
  // Origins a browser page may open the WebSocket from besides the page's
  // own ("*": any). Clients that send no Origin (the elements,
  // command-line tools) are not browsers and are let through.
  std::vector<std::string> allowed_origins;
  // Reverse proxies whose Forwarded / X-Forwarded-For headers name the
  // client (for the per-address cap, the logs and the history).
  TrustedProxies trusted_proxies;
  // With a certificate the server speaks https and wss only.
  GTlsCertificate *tls_certificate = nullptr;
  RegistryConfig registry;
  // The call log, owned by the caller; nullptr: none kept. GET /api/history
  // serves it to requests that carry `Authorization: Bearer ADMIN_SECRET`.
  CallHistory *history = nullptr;
  std::string admin_secret;
};

class SignallingServer {
public:
  explicit SignallingServer (ServerOptions options);
  ~SignallingServer ();
  SignallingServer (const SignallingServer &) = delete;
  SignallingServer & operator= (const SignallingServer &) = delete;

  bool start (GError ** error);
  // Closes every connection with 1001 (going away).
  void shutdown ();
  // New TLS connections use @certificate (a reload); open ones keep theirs.
  void set_tls_certificate (GTlsCertificate * certificate);
  // http://ADDRESS:PORT/ of the first listener.
  std::string url () const;

private:
  bool listen_on (GInetAddress * inet, guint16 port, GError ** error);

  struct Connection;
  struct HttpConnection;
  struct Listener;

  static gboolean on_incoming (GSocket * socket, GIOCondition condition,
      gpointer user_data);
  void accept_all (Listener & listener);
  void add_http_connection (GSocket * socket);
  void hand_to_soup (P2pcallMeteredStream * stream, GSocketAddress * local,
      GSocketAddress * remote);
  void shed_oldest_http_connection ();
  void sweep_http_connections ();
  static void on_early (SoupServer * server, SoupServerMessage * msg,
      const char *path, GHashTable * query, gpointer user_data);
  bool refuse_body (SoupServerMessage * msg);
  void close_for (Connection & c, unsigned short code, const char *reason,
      std::vector<Outgoing> & out);
  void send_to (Connection & c, const std::string & text,
      std::vector<Outgoing> & out);

  static void on_http (SoupServer * server, SoupServerMessage * msg,
      const char *path, GHashTable * query, gpointer user_data);
  static void on_websocket (SoupServer * server, SoupServerMessage * msg,
      const char *path, SoupWebsocketConnection * ws, gpointer user_data);
  static gboolean on_keepalive_check (gpointer user_data);

  void add_connection (SoupServerMessage * msg, SoupWebsocketConnection * ws);
  void on_message (ConnectionId id, SoupWebsocketDataType type, GBytes * data);
  void on_closing (ConnectionId id);
  void on_closed (ConnectionId id);
  void dispatch (std::vector<Outgoing> & out);
  void serve_health (SoupServerMessage * msg);
  void serve_history (SoupServerMessage * msg, GHashTable * query);
  // options_.registry, with the call history listening to joins and leaves.
  RegistryConfig registry_config ();
  // Checks an upgrade request before libsoup accepts it; sets a refusal
  // status and returns false when it may not go ahead.
  bool admit_upgrade (SoupServerMessage * msg);
  bool origin_allowed (SoupServerMessage * msg) const;
  // The client's address: the peer's, or behind a trusted proxy the one its
  // headers name.
  std::string client_address (SoupServerMessage * msg) const;

  ServerOptions options_;
  RoomRegistry registry_;
  StaticFiles files_;
  SoupServer *soup_ = nullptr;
  guint keepalive_source_ = 0;
  guint sweep_source_ = 0;
  guint16 port_ = 0;
  // What new TLS connections are served with: options_.tls_certificate at
  // first, then each reload's (set_tls_certificate). Owned.
  GTlsCertificate *certificate_ = nullptr;
  std::vector<std::unique_ptr<Listener>> listeners_;
  // Not WebSockets (yet), by "address:port" of the client, in accept order.
  std::unordered_map<std::string, std::unique_ptr<HttpConnection>> http_;
  guint max_http_connections_ = 0;
  gint64 last_accept_error_log_us_ = 0;
  // Cancelled when the server goes: TLS handshakes still under way then
  // must not call back into it.
  GCancellable *alive_ = g_cancellable_new ();
  ConnectionId next_id_ = 1;
  std::unordered_map<ConnectionId, std::unique_ptr<Connection>> connections_;
  std::unordered_map<std::string, guint> connections_per_address_;
};

}  // namespace p2pcall::server
