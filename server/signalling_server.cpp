#include "signalling_server.h"
#include "metrics.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>

namespace p2pcall::server {

namespace {

// What the bytes of one WebSocket message may exceed its payload by
// (frame headers of a fragmented message, pongs, a close) before reads stop.
constexpr guint64 kFramingSlack = 4096;
// After EMFILE, accepting pauses this long (the listening socket stays
// readable: retrying at once would spin).
constexpr guint kAcceptPauseMs = 100;
constexpr int kAcceptsPerWakeup = 64;

}  // namespace

struct SignallingServer::Connection {
  SignallingServer *server;
  ConnectionId id;
  SoupWebsocketConnection *ws;
  std::string remote;
  std::string kind;             // page, gstreamer or plain (call history)
  gint64 last_seen_us;
  bool dead = false;
  bool ping_pending = false;    // libsoup's keep-alive timer is running
  // Counts what the member sends and what reached its socket; null for a
  // connection the server did not accept itself.
  std::shared_ptr<StreamMeter> meter;
  guint64 queued_total = 0;     // bytes handed to libsoup to send

  Connection (SignallingServer *s, ConnectionId i,
      SoupWebsocketConnection *w, std::string r)
    : server (s), id (i), ws (SOUP_WEBSOCKET_CONNECTION (g_object_ref (w))),
      remote (std::move (r)), last_seen_us (g_get_monotonic_time ()) {}

  ~Connection ()
  {
    if (meter)
      meter->on_over = nullptr;
    g_signal_handlers_disconnect_by_data (ws, this);
    g_object_unref (ws);
  }

  // Bytes handed to libsoup that have not reached the socket yet.
  guint64 queued () const
  {
    return meter && queued_total > meter->written_total ?
        queued_total - meter->written_total : 0;
  }
};

// A connection that is not a WebSocket (yet).
struct SignallingServer::HttpConnection {
  GSocket *socket;
  P2pcallMeteredStream *stream;
  std::shared_ptr<StreamMeter> meter;
  gint64 accepted_us;
  // Set when the server answered a request itself (a refused body) and
  // took the connection from libsoup.
  GIOStream *stolen = nullptr;

  HttpConnection (GSocket *s, P2pcallMeteredStream *m)
    : socket (G_SOCKET (g_object_ref (s))),
      stream (P2PCALL_METERED_STREAM (g_object_ref (m))),
      meter (p2pcall_metered_stream_get_meter (m)),
      accepted_us (g_get_monotonic_time ()) {}

  ~HttpConnection ()
  {
    meter->on_over = nullptr;
    meter->on_closed = nullptr;
    if (stolen) {
      g_io_stream_close (stolen, nullptr, nullptr);
      g_object_unref (stolen);
    }
    g_object_unref (stream);
    g_object_unref (socket);
  }

  // libsoup sees the end of the stream and drops the connection.
  void shut () { g_socket_shutdown (socket, TRUE, TRUE, nullptr); }
};

struct SignallingServer::Listener {
  SignallingServer *server;
  GSocket *socket;
  GSource *source = nullptr;
  guint resume = 0;

  ~Listener ()
  {
    if (resume)
      g_source_remove (resume);
    if (source) {
      g_source_destroy (source);
      g_source_unref (source);
    }
    g_socket_close (socket, nullptr);
    g_object_unref (socket);
  }

  void watch ()
  {
    source = g_socket_create_source (socket, G_IO_IN, nullptr);
    g_source_set_callback (source, (GSourceFunc) (void (*) ()) on_incoming,
        this, nullptr);
    g_source_attach (source, nullptr);
  }
};

SignallingServer::SignallingServer (ServerOptions options)
  : options_ (std::move (options)),
    registry_ (registry_config ()),
    files_ (options_.web_root)
{
  g_set_object (&certificate_, options_.tls_certificate);
}

RegistryConfig
SignallingServer::registry_config ()
{
  RegistryConfig config = options_.registry;
  if (!options_.history)
    return config;
  config.membership = [this] (ConnectionId conn, const std::string &room,
      const std::string &peer_id, const std::string &name, bool joined) {
    std::int64_t now = g_get_real_time () / G_USEC_PER_SEC;
    if (!joined) {
      options_.history->member_left (room, peer_id, now);
      return;
    }
    auto it = connections_.find (conn);
    const Connection *c = it == connections_.end () ? nullptr : it->second.get ();
    options_.history->member_joined (room, peer_id, name,
        c ? c->kind : "plain", c ? c->remote : "", now);
  };
  return config;
}

SignallingServer::~SignallingServer ()
{
  g_cancellable_cancel (alive_);
  g_object_unref (alive_);
  if (keepalive_source_)
    g_source_remove (keepalive_source_);
  if (sweep_source_)
    g_source_remove (sweep_source_);
  listeners_.clear ();
  http_.clear ();
  connections_.clear ();
  if (soup_) {
    soup_server_disconnect (soup_);
    g_object_unref (soup_);
  }
  g_clear_object (&certificate_);
}

// The server makes and watches its own listening sockets: libsoup 3.2's
// listener stops accepting for good at the first failed accept() (EMFILE),
// and soup_server_listen() leaves GLib's listen backlog of 10, so a burst
// of clients (every member reconnecting after a restart) saw dropped SYNs.
// Each accepted connection goes to libsoup through a StreamMeter.
bool
SignallingServer::listen_on (GInetAddress *inet, guint16 port, GError **error)
{
  GSocketFamily family = g_inet_address_get_family (inet);
  g_autoptr (GSocket) socket = g_socket_new (family, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, error);
  if (!socket)
    return false;
  if (family == G_SOCKET_FAMILY_IPV6 && g_inet_address_get_is_any (inet)
      && !g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, error))
    return false;
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (inet, port);
  g_socket_set_listen_backlog (socket, kListenBacklog);
  if (!g_socket_bind (socket, addr, TRUE, error)
      || !g_socket_listen (socket, error))
    return false;
  g_socket_set_blocking (socket, FALSE);
  if (!port_) {
    g_autoptr (GSocketAddress) local = g_socket_get_local_address (socket,
        error);
    if (!local)
      return false;
    port_ = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  }
  auto listener = std::make_unique<Listener> ();
  listener->server = this;
  listener->socket = G_SOCKET (g_object_ref (socket));
  listener->watch ();
  listeners_.push_back (std::move (listener));
  return true;
}

namespace {

// "address:port" of a client: names one TCP connection.
std::string
endpoint_key (GSocketAddress *addr)
{
  if (!addr || !G_IS_INET_SOCKET_ADDRESS (addr))
    return {};
  GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (addr);
  g_autofree char *ip = g_inet_address_to_string (
      g_inet_socket_address_get_address (inet));
  return std::string (ip) + ":" +
      std::to_string (g_inet_socket_address_get_port (inet));
}

}  // namespace

gboolean
SignallingServer::on_incoming (GSocket *, GIOCondition, gpointer data)
{
  auto *listener = static_cast<Listener *> (data);
  listener->server->accept_all (*listener);
  return listener->source ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void
SignallingServer::accept_all (Listener &listener)
{
  for (int i = 0; i < kAcceptsPerWakeup; i++) {
    g_autoptr (GError) err = nullptr;
    g_autoptr (GSocket) client = g_socket_accept (listener.socket, nullptr,
        &err);
    if (client) {
      add_http_connection (client);
      continue;
    }
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      return;
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
        g_error_matches (err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)) {
      g_debug ("accept failed: %s", err->message);   // the client gave up
      continue;
    }
    // Out of descriptors (EMFILE, ENFILE) or memory: free one for later,
    // and wait a little rather than spin on a listening socket that stays
    // readable.
    gint64 now = g_get_monotonic_time ();
    if (now - last_accept_error_log_us_ >= G_USEC_PER_SEC) {
      last_accept_error_log_us_ = now;
      g_warning ("cannot accept: %s (%zu WebSockets, %zu other connections "
          "open); closing the oldest non-WebSocket connection and pausing "
          "accepts for %u ms", err->message, connections_.size (),
          http_.size (), kAcceptPauseMs);
    }
    shed_oldest_http_connection ();
    g_source_destroy (listener.source);
    g_source_unref (listener.source);
    listener.source = nullptr;
    listener.resume = g_timeout_add (kAcceptPauseMs, +[] (gpointer p) {
          auto *l = static_cast<Listener *> (p);
          l->resume = 0;
          l->watch ();
          return G_SOURCE_REMOVE;
        }, &listener);
    return;
  }
}

void
SignallingServer::add_http_connection (GSocket *socket)
{
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (socket,
      nullptr);
  g_autoptr (GSocketAddress) remote = g_socket_get_remote_address (socket,
      nullptr);
  if (!local || !remote)
    return;                     // already gone
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, nullptr);
  g_autoptr (GSocketConnection) tcp =
      g_socket_connection_factory_create_connection (socket);
  g_autoptr (GIOStream) base = G_IO_STREAM (g_object_ref (tcp));
  if (certificate_) {
    g_autoptr (GError) err = nullptr;
    GIOStream *tls = g_tls_server_connection_new (base, certificate_, &err);
    if (!tls) {
      g_warning ("cannot start TLS: %s", err->message);
      return;
    }
    g_object_set (tls, "require-close-notify", FALSE, nullptr);
    g_object_unref (base);
    base = tls;
  }
  while (http_.size () >= max_http_connections_)
    shed_oldest_http_connection ();

  g_autoptr (P2pcallMeteredStream) stream = p2pcall_metered_stream_new (base);
  std::string key = endpoint_key (remote);
  auto conn = std::make_unique<HttpConnection> (socket, stream);
  conn->meter->allowance = kMaxRequestHeadBytes;
  conn->meter->on_over = [this, key] {
    auto it = http_.find (key);
    if (it == http_.end ())
      return;
    g_message ("closing connection from %s: more than %" G_GUINT64_FORMAT
        " bytes of request head", key.c_str (), kMaxRequestHeadBytes);
    it->second->shut ();
    http_.erase (it);
  };
  conn->meter->on_closed = [this, key] { http_.erase (key); };
  http_[key] = std::move (conn);
  if (!certificate_) {
    hand_to_soup (stream, local, remote);
    return;
  }
  // The TLS handshake first, as libsoup's own listener does: left implicit
  // (on libsoup's first non-blocking read) it sometimes never completed.
  struct Handshake {
    SignallingServer *server;
    GCancellable *alive;
    P2pcallMeteredStream *stream;
    GSocketAddress *local, *remote;
  };
  auto *h = new Handshake { this, G_CANCELLABLE (g_object_ref (alive_)),
    P2PCALL_METERED_STREAM (g_object_ref (stream)),
    G_SOCKET_ADDRESS (g_object_ref (local)),
    G_SOCKET_ADDRESS (g_object_ref (remote)) };
  g_tls_connection_handshake_async (G_TLS_CONNECTION (base), G_PRIORITY_DEFAULT,
      alive_, +[] (GObject *tls, GAsyncResult *res, gpointer p) {
        auto *h = static_cast<Handshake *> (p);
        g_autoptr (GError) err = nullptr;
        bool ok = g_tls_connection_handshake_finish (G_TLS_CONNECTION (tls),
            res, &err);
        if (!g_cancellable_is_cancelled (h->alive)) {
          std::string key = endpoint_key (h->remote);
          auto it = h->server->http_.find (key);
          bool current = it != h->server->http_.end () &&
              it->second->stream == h->stream;
          if (ok && current) {
            h->server->hand_to_soup (h->stream, h->local, h->remote);
          } else if (current) {
            g_debug ("TLS handshake with %s failed: %s", key.c_str (),
                err->message);
            it->second->shut ();
            h->server->http_.erase (it);
          }
        }
        g_object_unref (h->alive);
        g_object_unref (h->stream);
        g_object_unref (h->local);
        g_object_unref (h->remote);
        delete h;
      }, h);
}

void
SignallingServer::hand_to_soup (P2pcallMeteredStream *stream,
    GSocketAddress *local, GSocketAddress *remote)
{
  g_autoptr (GError) err = nullptr;
  if (!soup_server_accept_iostream (soup_, G_IO_STREAM (stream), local, remote,
          &err)) {
    g_warning ("libsoup refused a connection: %s", err->message);
    http_.erase (endpoint_key (remote));
  }
}

void
SignallingServer::shed_oldest_http_connection ()
{
  auto oldest = http_.end ();
  for (auto it = http_.begin (); it != http_.end (); ++it)
    if (oldest == http_.end () ||
        it->second->accepted_us < oldest->second->accepted_us)
      oldest = it;
  if (oldest == http_.end ())
    return;
  g_debug ("closing the oldest non-WebSocket connection, from %s",
      oldest->first.c_str ());
  oldest->second->shut ();
  http_.erase (oldest);
}

void
SignallingServer::sweep_http_connections ()
{
  gint64 now = g_get_monotonic_time ();
  for (auto it = http_.begin (); it != http_.end ();) {
    HttpConnection &c = *it->second;
    bool head_too_slow = c.meter->unmarked () > 0 &&
        now - c.meter->unit_started_us > kRequestHeadTimeoutUs;
    if (head_too_slow || now - c.meter->last_read_us > kHttpIdleTimeoutUs ||
        now - c.accepted_us > kHttpLifetimeUs) {
      g_debug ("closing idle connection from %s", it->first.c_str ());
      c.shut ();
      it = http_.erase (it);
    } else {
      ++it;
    }
  }
}

bool
SignallingServer::start (GError **error)
{
  soup_ = soup_server_new ("server-header", "p2pcall-server ", nullptr);
  // No permessage-deflate: libsoup inflates a whole message before any size
  // check (a 292 KB frame became 300 MB), and signalling gains little from
  // it (docs/limits.md).
  soup_server_remove_websocket_extension (soup_,
      SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  soup_server_add_early_handler (soup_, nullptr, on_early, this, nullptr);
  soup_server_add_handler (soup_, "/", on_http, this, nullptr);
  soup_server_add_handler (soup_, "/healthz", on_http, this, nullptr);
  soup_server_add_handler (soup_, "/api/history", on_http, this, nullptr);
  soup_server_add_handler (soup_, "/ws", on_http, this, nullptr);
  // The original app's client connects to ws://HOST:8080, so "/" upgrades too.
  soup_server_add_websocket_handler (soup_, "/ws", nullptr, nullptr,
      on_websocket, this, nullptr);
  soup_server_add_websocket_handler (soup_, "/", nullptr, nullptr,
      on_websocket, this, nullptr);

  struct rlimit files;
  guint64 descriptors = getrlimit (RLIMIT_NOFILE, &files) == 0 &&
      files.rlim_cur != RLIM_INFINITY ? files.rlim_cur : G_MAXUINT;
  max_http_connections_ = (guint) std::max<guint64> (4,
      std::min<guint64> (options_.max_http_connections, descriptors / 4));

  bool ok;
  if (options_.address.empty ()) {
    // Every interface, IPv4 and (where the system has it) IPv6, one port.
    g_autoptr (GInetAddress) any4 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
    ok = listen_on (any4, options_.port, error);
    if (ok) {
      g_autoptr (GInetAddress) any6 =
          g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
      g_autoptr (GError) v6_error = nullptr;
      if (!listen_on (any6, port_, &v6_error))
        g_debug ("not listening on IPv6: %s", v6_error->message);
    }
  } else {
    g_autoptr (GInetAddress) inet =
        g_inet_address_new_from_string (options_.address.c_str ());
    if (!inet) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "--address \"%s\" is not an IP address", options_.address.c_str ());
      return false;
    }
    ok = listen_on (inet, options_.port, error);
  }
  if (!ok)
    return false;

  keepalive_source_ = g_timeout_add (options_.keepalive_seconds * 1000 / 4,
      on_keepalive_check, this);
  sweep_source_ = g_timeout_add_seconds (1, +[] (gpointer p) -> gboolean {
        static_cast<SignallingServer *> (p)->sweep_http_connections ();
        return G_SOURCE_CONTINUE;
      }, this);
  return true;
}

std::string
SignallingServer::url () const
{
  std::string host = options_.address.empty () ? "localhost" :
      options_.address;
  if (host.find (':') != std::string::npos)
    host = "[" + host + "]";
  return std::string (options_.tls_certificate ? "https://" : "http://") +
      host + ":" + std::to_string (port_) + "/";
}

void
SignallingServer::set_tls_certificate (GTlsCertificate *certificate)
{
  // The server wraps accepted sockets in TLS itself (the byte meter sits
  // under TLS), so libsoup's own certificate setting would reach no one.
  g_set_object (&certificate_, certificate);
}

void
SignallingServer::shutdown ()
{
  for (auto &entry : connections_) {
    SoupWebsocketConnection *ws = entry.second->ws;
    if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (ws, protocol::kCloseGoingAway,
          "server shutting down");
  }
}

namespace {

// Hosts as a Host header may name them; anything else is left out of the
// policy rather than copied into it.
bool
is_plain_host (const char *host)
{
  if (!host || !*host || strlen (host) > 255)
    return false;
  for (const char *p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && !strchr (".-:[]", *p))
      return false;
  return true;
}

// The page's policy, on every response: its own modules, styles, images
// (data: and blob: too: file transfers, avatars), camera and microphone
// streams, the service worker, and WebSockets to this same host; nothing
// may frame it.
std::string
content_security_policy (SoupServerMessage *msg)
{
  // blob: for the page's own objects (a received file is read back as one).
  std::string connect = "'self' blob:";
  const char *host = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Host");
  if (is_plain_host (host))
    connect += std::string (" ws://") + host + " wss://" + host;
  return "default-src 'self'; script-src 'self'; style-src 'self'; "
      "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
      "connect-src " + connect + "; worker-src 'self'; "
      "manifest-src 'self'; object-src 'none'; base-uri 'none'; "
      "form-action 'none'; frame-ancestors 'none'";
}

const char *const kSecurityHeaders[][2] = {
  {"X-Content-Type-Options", "nosniff"},
  {"Referrer-Policy", "no-referrer"},
  {"X-Frame-Options", "DENY"},
  {"Cross-Origin-Opener-Policy", "same-origin"},
  {"Cross-Origin-Resource-Policy", "same-origin"},
};

void
add_security_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (headers, "Content-Security-Policy",
      content_security_policy (msg).c_str ());
  for (auto &h : kSecurityHeaders)
    soup_message_headers_replace (headers, h[0], h[1]);
}

bool
is_upgrade (SoupServerMessage *msg)
{
  return soup_message_headers_header_contains (
      soup_server_message_get_request_headers (msg), "Upgrade", "websocket");
}

}  // namespace

// Headers are in, the body (if any) is not read yet.
void
SignallingServer::on_early (SoupServer *, SoupServerMessage *msg,
    const char *, GHashTable *, gpointer user_data)
{
  auto *self = static_cast<SignallingServer *> (user_data);
  add_security_headers (msg);
  auto it = self->http_.find (endpoint_key (
          soup_server_message_get_remote_address (msg)));
  if (it != self->http_.end ())
    it->second->meter->mark ();
  self->refuse_body (msg);
}

// No route takes a request body. libsoup would read one whole before any
// handler could answer (a 200 MB POST held 400 MB), so a request that
// announces one is answered here, the connection taken from libsoup, and
// the body never read.
bool
SignallingServer::refuse_body (SoupServerMessage *msg)
{
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  SoupEncoding encoding = soup_message_headers_get_encoding (request);
  bool has_body = encoding == SOUP_ENCODING_CHUNKED ||
      encoding == SOUP_ENCODING_EOF ||
      (encoding == SOUP_ENCODING_CONTENT_LENGTH &&
          soup_message_headers_get_content_length (request) > 0);
  if (!has_body)
    return false;
  const char *method = soup_server_message_get_method (msg);
  bool readable = !strcmp (method, SOUP_METHOD_GET) ||
      !strcmp (method, SOUP_METHOD_HEAD);
  std::string key = endpoint_key (soup_server_message_get_remote_address (msg));
  auto it = http_.find (key);
  if (it == http_.end ()) {
    // Not a connection of ours: let libsoup read it, into nothing.
    soup_message_body_set_accumulate (
        soup_server_message_get_request_body (msg), FALSE);
    soup_server_message_set_status (msg, readable ? 413 :
        SOUP_STATUS_METHOD_NOT_ALLOWED, nullptr);
    return true;
  }
  g_debug ("refusing a %s request with a body from %s", method, key.c_str ());
  std::string body = readable ? "413 no route takes a request body\n" :
      "405 only GET and HEAD\n";
  std::string response = std::string ("HTTP/1.1 ") + (readable ?
      "413 Content Too Large" : "405 Method Not Allowed") + "\r\n"
      "Allow: GET, HEAD\r\nConnection: close\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: " + std::to_string (body.size ()) + "\r\n";
  SoupMessageHeadersIter iter;
  const char *name, *value;
  soup_message_headers_iter_init (&iter,
      soup_server_message_get_response_headers (msg));
  while (soup_message_headers_iter_next (&iter, &name, &value))
    response += std::string (name) + ": " + value + "\r\n";
  response += "\r\n" + body;

  HttpConnection &conn = *it->second;
  conn.stolen = soup_server_message_steal_connection (msg);
  // Small enough for an empty socket buffer; whatever does not fit is lost
  // with a client that sends a body nobody asked for.
  g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (
          g_io_stream_get_output_stream (conn.stolen)), response.data (),
      response.size (), nullptr, nullptr);
  // The body the client still sends stays unread in the kernel; the sweep
  // closes the connection once it has been idle.
  g_socket_shutdown (conn.socket, FALSE, TRUE, nullptr);
  return true;
}

void
SignallingServer::on_http (SoupServer *, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer user_data)
{
  auto *self = static_cast<SignallingServer *> (user_data);
  add_security_headers (msg);
  // libsoup calls this handler for WebSocket upgrades too, before it looks
  // at the handshake; setting no status lets the upgrade go ahead.
  if (is_upgrade (msg)) {
    self->admit_upgrade (msg);
    return;
  }
  if (strcmp (path, "/healthz") == 0)
    self->serve_health (msg);
  else if (strcmp (path, "/api/history") == 0)
    self->serve_history (msg, query);
  else
    self->files_.handle (msg, path);
}

namespace {

std::string
remote_address (SoupServerMessage *msg)
{
  GSocketAddress *addr = soup_server_message_get_remote_address (msg);
  if (!addr || !G_IS_INET_SOCKET_ADDRESS (addr))
    return "?";
  g_autofree char *text = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)));
  return text;
}

}  // namespace

std::string
SignallingServer::client_address (SoupServerMessage *msg) const
{
  GSocketAddress *addr = soup_server_message_get_remote_address (msg);
  if (options_.trusted_proxies.empty () || !addr ||
      !G_IS_INET_SOCKET_ADDRESS (addr))
    return remote_address (msg);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  return options_.trusted_proxies.client (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)),
      soup_message_headers_get_one (headers, "Forwarded"),
      soup_message_headers_get_one (headers, "X-Forwarded-For"));
}

namespace {

// "scheme://host[:port]" in lower case, without a default port.
std::string
normalise_origin (const char *origin)
{
  g_autoptr (GUri) uri = g_uri_parse (origin, G_URI_FLAGS_NONE, nullptr);
  if (!uri || !g_uri_get_host (uri))
    return {};
  g_autofree char *scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  g_autofree char *host = g_ascii_strdown (g_uri_get_host (uri), -1);
  std::string result = std::string (scheme) + "://" + host;
  int port = g_uri_get_port (uri);
  bool default_port = port < 0 || (port == 80 && !g_strcmp0 (scheme, "http"))
      || (port == 443 && !g_strcmp0 (scheme, "https"));
  if (!default_port)
    result += ":" + std::to_string (port);
  return result;
}

}  // namespace

bool
SignallingServer::origin_allowed (SoupServerMessage *msg) const
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *origin = soup_message_headers_get_one (headers, "Origin");
  if (!origin)
    return true;
  std::string wanted = normalise_origin (origin);
  if (wanted.empty ())
    return false;
  // The page's own origin always: the Origin's host and port are the Host
  // the request was sent to. --allowed-origin adds others.
  const char *host = soup_message_headers_get_one (headers, "Host");
  std::string scheme = options_.tls_certificate ? "https://" : "http://";
  if (host && wanted == normalise_origin ((scheme + host).c_str ()))
    return true;
  for (const std::string &allowed : options_.allowed_origins)
    if (allowed == "*" || normalise_origin (allowed.c_str ()) == wanted)
      return true;
  return false;
}

bool
SignallingServer::admit_upgrade (SoupServerMessage *msg)
{
  std::string remote = client_address (msg);
  if (!origin_allowed (msg)) {
    const char *origin = soup_message_headers_get_one (
        soup_server_message_get_request_headers (msg), "Origin");
    g_message ("refused WebSocket from %s: origin %s is not allowed (see "
        "--allowed-origin)", remote.c_str (), origin);
    soup_server_message_set_status (msg, SOUP_STATUS_FORBIDDEN, nullptr);
    return false;
  }
  auto count = connections_per_address_.find (remote);
  if (count != connections_per_address_.end () &&
      count->second >= options_.max_connections_per_address) {
    g_message ("refused WebSocket from %s: it has %u connections open",
        remote.c_str (), count->second);
    soup_server_message_set_status (msg, 429, "Too Many Requests");
    return false;
  }
  return true;
}

void
SignallingServer::serve_health (SoupServerMessage *msg)
{
  std::string body = "{\"status\":\"ok\",\"connections\":" +
      std::to_string (connections_.size ()) + ",\"rooms\":" +
      std::to_string (registry_.room_count ()) + ",\"members\":" +
      std::to_string (registry_.member_count ()) + "}";
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
      body.data (), body.size ());
}

namespace {

void
answer_json (SoupServerMessage *msg, guint status, const std::string &body)
{
  soup_server_message_set_status (msg, status, nullptr);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
      body.data (), body.size ());
}

// Compares in time that does not depend on where the texts differ.
bool
same_secret (const std::string &given, const std::string &secret)
{
  unsigned char diff = given.size () != secret.size ();
  for (std::size_t i = 0; i < given.size (); i++)
    diff |= (unsigned char) (given[i] ^ secret[i % secret.size ()]);
  return diff == 0;
}

}  // namespace

// GET /api/history?room=R&since=DATE&limit=N&offset=N: the call log, newest
// first, for the host's admin only.
void
SignallingServer::serve_history (SoupServerMessage *msg, GHashTable *query)
{
  if (!options_.history) {
    answer_json (msg, SOUP_STATUS_NOT_FOUND,
        "{\"error\":\"this server keeps no call history (--history-db)\"}");
    return;
  }
  const char *auth = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Authorization");
  if (options_.admin_secret.empty () || !auth ||
      !g_str_has_prefix (auth, "Bearer ") ||
      !same_secret (auth + strlen ("Bearer "), options_.admin_secret)) {
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
        "WWW-Authenticate", "Bearer realm=\"p2pcall history\"");
    answer_json (msg, SOUP_STATUS_UNAUTHORIZED, options_.admin_secret.empty () ?
        "{\"error\":\"the call history needs --admin-secret on the server\"}" :
        "{\"error\":\"the call history needs the admin secret: "
        "Authorization: Bearer SECRET\"}");
    return;
  }
  HistoryQuery q;
  const char *value;
  guint64 number;
  if (query && (value = (const char *) g_hash_table_lookup (query, "room")))
    q.room = value;
  if (query && (value = (const char *) g_hash_table_lookup (query, "since"))) {
    q.since = parse_history_date (value);
    if (q.since < 0) {
      answer_json (msg, SOUP_STATUS_BAD_REQUEST, "{\"error\":\"since must be "
          "a date (2026-12-01) or an ISO 8601 time\"}");
      return;
    }
  }
  for (auto [name, target, max] : {std::tuple {"limit", &q.limit, 500u},
          std::tuple {"offset", &q.offset, G_MAXUINT}}) {
    if (!query || !(value = (const char *) g_hash_table_lookup (query, name)))
      continue;
    if (!g_ascii_string_to_unsigned (value, 10, 0, max, &number, nullptr)) {
      answer_json (msg, SOUP_STATUS_BAD_REQUEST, std::string ("{\"error\":\"") +
          name + " must be a whole number from 0 to " + std::to_string (max) +
          "\"}");
      return;
    }
    *target = (guint) number;
  }
  answer_json (msg, SOUP_STATUS_OK, history_to_json (options_.history->calls (q)));
}

void
SignallingServer::on_websocket (SoupServer *, SoupServerMessage *msg,
    const char *, SoupWebsocketConnection *ws, gpointer user_data)
{
  static_cast<SignallingServer *> (user_data)->add_connection (msg, ws);
}

void
SignallingServer::add_connection (SoupServerMessage *msg,
    SoupWebsocketConnection *ws)
{
  std::string remote = client_address (msg);
  connections_per_address_[remote]++;
  ConnectionId id = next_id_++;
  auto conn = std::make_unique<Connection> (this, id, ws, remote);
  conn->kind = client_kind_from_user_agent (soup_message_headers_get_one (
          soup_server_message_get_request_headers (msg), "User-Agent"));
  auto http = http_.find (endpoint_key (
          soup_server_message_get_remote_address (msg)));
  if (http != http_.end ()) {
    conn->meter = http->second->meter;
    // The handshake's response is out: what is written from here on is
    // what the server sends on the WebSocket.
    conn->queued_total = conn->meter->written_total;
    http_.erase (http);
    // A fragmented message is counted as its frames arrive: reads stop at
    // the limit (plus framing), before libsoup has gathered more.
    conn->meter->allowance = options_.max_message_size + kFramingSlack;
    conn->meter->mark ();
    conn->meter->on_over = [this, id] {
      auto it = connections_.find (id);
      if (it == connections_.end () || it->second->dead)
        return;
      g_message ("%s (peer=%s) sent more than %" G_GUINT64_FORMAT " bytes "
          "without completing a message: closing",
          it->second->remote.c_str (), registry_.peer_id (id).c_str (),
          options_.max_message_size);
      std::vector<Outgoing> out;
      close_for (*it->second, protocol::kCloseTooBig, "message too big", out);
      dispatch (out);
    };
  }
  // Messages over the limit are refused here with a clean 1009 close;
  // libsoup's own cap, far above, only stops a flood of one huge frame
  // (it drops the socket without a close handshake).
  soup_websocket_connection_set_max_incoming_payload_size (ws,
      std::max<guint64> (4 * options_.max_message_size, 1024 * 1024));
  // No keep-alive timer of libsoup's here: pings are asked for from one
  // server-wide timer (see on_keepalive_check).

  g_signal_connect (ws, "message", G_CALLBACK (+[] (SoupWebsocketConnection *,
              gint type, GBytes *data, Connection *c) {
        c->server->on_message (c->id, (SoupWebsocketDataType) type, data);
      }), conn.get ());
  g_signal_connect (ws, "pong", G_CALLBACK (+[] (SoupWebsocketConnection *ws,
              GBytes *, Connection *c) {
        c->last_seen_us = g_get_monotonic_time ();
        if (c->meter)
          c->meter->mark ();
        if (c->ping_pending) {
          soup_websocket_connection_set_keepalive_interval (ws, 0);
          c->ping_pending = false;
        }
      }), conn.get ());
  // A member that says goodbye is announced gone at once, not when the
  // close handshake and the socket are done with.
  g_signal_connect (ws, "closing", G_CALLBACK (+[] (SoupWebsocketConnection *,
              Connection *c) {
        c->server->on_closing (c->id);
      }), conn.get ());
  g_signal_connect (ws, "closed", G_CALLBACK (+[] (SoupWebsocketConnection *,
              Connection *c) {
        c->server->on_closed (c->id);
      }), conn.get ());

  g_debug ("connection %" G_GUINT64_FORMAT " from %s", id, remote.c_str ());
  connections_[id] = std::move (conn);
  metrics::connection_opened ();
}

void
SignallingServer::on_message (ConnectionId id, SoupWebsocketDataType type,
    GBytes *data)
{
  auto it = connections_.find (id);
  if (it == connections_.end () || it->second->dead)
    return;
  it->second->last_seen_us = g_get_monotonic_time ();
  if (it->second->meter)
    it->second->meter->mark ();
  metrics::HandlingTimer timer;

  std::vector<Outgoing> out;
  gsize size = 0;
  const char *payload = (const char *) g_bytes_get_data (data, &size);
  if (size > options_.max_message_size) {
    Connection &c = *it->second;
    g_message ("message of %" G_GSIZE_FORMAT " bytes from %s (peer=%s) is "
        "over the %" G_GUINT64_FORMAT "-byte limit: closing", size,
        c.remote.c_str (), registry_.peer_id (id).c_str (),
        options_.max_message_size);
    close_for (c, protocol::kCloseTooBig, "message too big", out);
  } else if (type == SOUP_WEBSOCKET_DATA_TEXT) {
    registry_.handle_text (id, std::string_view (payload, size), out);
  } else {
    registry_.handle_binary (id, out);
  }
  dispatch (out);
}

void
SignallingServer::on_closing (ConnectionId id)
{
  auto it = connections_.find (id);
  if (it == connections_.end () || it->second->dead)
    return;     // we closed it, and announced it then
  it->second->dead = true;
  std::vector<Outgoing> out;
  registry_.disconnect (id, out);
  dispatch (out);
}

void
SignallingServer::on_closed (ConnectionId id)
{
  auto it = connections_.find (id);
  if (it == connections_.end ())
    return;
  std::vector<Outgoing> out;
  registry_.disconnect (id, out);
  SoupWebsocketConnection *ws = it->second->ws;
  g_debug ("connection %" G_GUINT64_FORMAT " closed (code %u)", id,
      soup_websocket_connection_get_close_code (ws));
  // Dropping the Connection drops our reference; do it after this signal
  // handler returns so libsoup is not left holding a finalized object.
  std::unique_ptr<Connection> conn = std::move (it->second);
  connections_.erase (it);
  metrics::connection_closed ();
  auto count = connections_per_address_.find (conn->remote);
  if (count != connections_per_address_.end () && --count->second == 0)
    connections_per_address_.erase (count);
  g_idle_add_full (G_PRIORITY_DEFAULT, +[] (gpointer p) -> gboolean {
        delete static_cast<Connection *> (p);
        return G_SOURCE_REMOVE;
      }, conn.release (), nullptr);
  dispatch (out);
}

// The connection leaves its room (the others are told) and is closed.
void
SignallingServer::close_for (Connection &c, unsigned short code,
    const char *reason, std::vector<Outgoing> &out)
{
  c.dead = true;
  registry_.disconnect (c.id, out);
  if (soup_websocket_connection_get_state (c.ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (c.ws, code, reason);
}

void
SignallingServer::send_to (Connection &c, const std::string &text,
    std::vector<Outgoing> &out)
{
  // Frame header of a server frame: 2 bytes, 4 or 10 for longer payloads.
  guint64 size = text.size () + (text.size () < 126 ? 2 :
      text.size () < 65536 ? 4 : 10);
  if (c.queued () + size > options_.max_queued_bytes) {
    g_message ("%s (peer=%s) does not read: %" G_GUINT64_FORMAT " bytes "
        "wait to be sent to it; closing", c.remote.c_str (),
        registry_.peer_id (c.id).c_str (), c.queued ());
    close_for (c, protocol::kCloseNotReading, "not reading", out);
    return;
  }
  c.queued_total += size;
  soup_websocket_connection_send_text (c.ws, text.c_str ());
}

void
SignallingServer::dispatch (std::vector<Outgoing> &out)
{
  // By index: closing a member that does not read adds its room's
  // user-disconnected to @out.
  for (std::size_t i = 0; i < out.size (); i++) {
    auto it = connections_.find (out[i].to);
    if (it == connections_.end () || it->second->dead)
      continue;
    Connection &c = *it->second;
    if (soup_websocket_connection_get_state (c.ws) == SOUP_WEBSOCKET_STATE_OPEN)
      send_to (c, out[i].text, out);
  }
  out.clear ();
}

gboolean
SignallingServer::on_keepalive_check (gpointer user_data)
{
  auto *self = static_cast<SignallingServer *> (user_data);
  // libsoup 3.2 can only ping from a timer of each connection's own, and a
  // GMainContext looks at every source on every iteration: thousands of
  // timers made each message and each new connection slower. So this one
  // timer, every quarter interval, asks for a ping (libsoup's keep-alive at
  // its shortest, one second) from members silent for a quarter interval,
  // and the pong turns it off again. A live member is then never silent for
  // more than half an interval plus that second (plus its round trip); one
  // silent for an interval plus a second is dropped, within two intervals
  // (from 2 s up).
  const gint64 interval_us = (gint64) self->options_.keepalive_seconds *
      G_USEC_PER_SEC;
  const gint64 limit_us = interval_us + G_USEC_PER_SEC;
  gint64 now = g_get_monotonic_time ();
  std::vector<Outgoing> out;
  std::vector<SoupWebsocketConnection *> to_close;
  for (auto &entry : self->connections_) {
    Connection &c = *entry.second;
    if (c.dead)
      continue;
    if (now - c.last_seen_us <= limit_us) {
      if (!c.ping_pending && now - c.last_seen_us >= interval_us / 4 &&
          soup_websocket_connection_get_state (c.ws) ==
          SOUP_WEBSOCKET_STATE_OPEN) {
        soup_websocket_connection_set_keepalive_interval (c.ws, 1);
        c.ping_pending = true;
      }
      continue;
    }
    c.dead = true;
    std::string peer = self->registry_.peer_id (c.id);
    g_message ("no pong from %s (peer=%s): dropping it", c.remote.c_str (),
        peer.empty () ? "-" : peer.c_str ());
    self->registry_.disconnect (c.id, out);
    to_close.push_back (SOUP_WEBSOCKET_CONNECTION (g_object_ref (c.ws)));
  }
  // Closed outside the loop: "closed" may change the table. A dead peer
  // cannot finish the close handshake; libsoup gives up on it after its own
  // timeout and then emits "closed".
  for (SoupWebsocketConnection *ws : to_close) {
    if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (ws, protocol::kCloseGoingAway,
          "no pong");
    g_object_unref (ws);
  }
  self->dispatch (out);
  return G_SOURCE_CONTINUE;
}

}  // namespace p2pcall::server
