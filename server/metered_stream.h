// A GIOStream around an accepted connection that counts what passes
// through it, so the server can bound what one client makes it hold:
// libsoup 3.2 keeps no limit on a fragmented WebSocket message, on request
// headers, or on the queue to a client that does not read, and tells nobody
// how much it holds. Reads stop (the stream reports nothing to read) once a
// client has sent more than its allowance since the server last called
// StreamMeter::mark(); the server is told and closes the connection.
#pragma once

#include <gio/gio.h>

#include <functional>
#include <memory>

namespace p2pcall::server {

struct StreamMeter {
  guint64 read_total = 0;
  guint64 written_total = 0;
  gint64 last_read_us = 0;
  // When the first byte after the last mark() arrived.
  gint64 unit_started_us = 0;
  // Bytes a client may send after the last mark() before reads stop.
  guint64 allowance = G_MAXUINT64;
  guint64 mark_at = 0;
  bool over = false;
  bool closed = false;
  // Called once, from an idle callback, after reads stopped.
  std::function<void ()> on_over;
  // Called when the stream is closed (by libsoup or by the server).
  std::function<void ()> on_closed;

  // A complete unit (request headers, message, pong) arrived: the
  // allowance counts from here.
  void mark () { mark_at = read_total; }
  guint64 unmarked () const { return read_total - mark_at; }
};

}  // namespace p2pcall::server

G_BEGIN_DECLS

#define P2PCALL_TYPE_METERED_STREAM (p2pcall_metered_stream_get_type ())
G_DECLARE_FINAL_TYPE (P2pcallMeteredStream, p2pcall_metered_stream, P2PCALL,
    METERED_STREAM, GIOStream)

// @base must have pollable input and output streams (sockets, TLS).
P2pcallMeteredStream *p2pcall_metered_stream_new (GIOStream * base);
std::shared_ptr<p2pcall::server::StreamMeter>
p2pcall_metered_stream_get_meter (P2pcallMeteredStream * stream);
GIOStream *p2pcall_metered_stream_get_base (P2pcallMeteredStream * stream);

G_END_DECLS
